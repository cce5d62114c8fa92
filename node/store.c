/* The node's durable state in SQLite; see store.h. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 2

struct node_store {
    sqlite3 *db;
    char name[96];
    uint16_t id;
};

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS modules ("
    "  hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, size INTEGER NOT NULL,"
    "  stored_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS apps ("
    "  name TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    "  manifest TEXT NOT NULL, file TEXT NOT NULL, spec BLOB NOT NULL,"
    "  updated_ms INTEGER NOT NULL);";

/* Version 2: an application's origin (the node that applied this version;
 * versions are ordered by number, then origin) and tombstones (deleted = 1,
 * kept so that a deletion wins over older copies elsewhere in a cluster). */
static const char schema_v2[] =
    "ALTER TABLE apps ADD COLUMN origin TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE apps ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static shoal_err db_error(node_store *st, shoal_errinfo *ei, const char *what)
{
    return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX, "%s: %s", what,
                             sqlite3_errmsg(st->db));
}

static shoal_err exec(node_store *st, const char *sql, shoal_errinfo *ei)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX, "state database: %s",
                          msg ? msg : "error");
        sqlite3_free(msg);
        return SHOAL_EIO;
    }
    return SHOAL_OK;
}

static bool meta_get(node_store *st, const char *key, char *buf, size_t len)
{
    sqlite3_stmt *s;
    bool found = false;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
        found = true;
    }
    sqlite3_finalize(s);
    return found;
}

static shoal_err meta_set(node_store *st, const char *key, const char *value)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO meta (key, value) "
                           "VALUES (?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SHOAL_OK : SHOAL_EIO;
}

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    if (v == 0)
        v = (uint32_t)now_ms() ^ (uint32_t)getpid() * 2654435761u;
    return v;
}

/* The node's identity: made at the first start, kept afterwards. */
static shoal_err load_identity(node_store *st, shoal_errinfo *ei)
{
    char buf[96];
    if (!meta_get(st, "node_id", buf, sizeof buf)) {
        snprintf(buf, sizeof buf, "%u", 1 + random_u32() % 0x7fff);
        if (meta_set(st, "node_id", buf) != SHOAL_OK)
            return db_error(st, ei, "state database");
    }
    st->id = (uint16_t)strtoul(buf, NULL, 10);
    if (st->id == 0 || st->id > 0x7fff)
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "state database: bad node_id %s", buf);
    if (!meta_get(st, "node_name", st->name, sizeof st->name)) {
        char host[64] = "node";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = 0;
        snprintf(st->name, sizeof st->name, "%s-%04x", host,
                 random_u32() & 0xffff);
        if (meta_set(st, "node_name", st->name) != SHOAL_OK)
            return db_error(st, ei, "state database");
    }
    return SHOAL_OK;
}

shoal_err store_open(const char *dir, node_store **out, shoal_errinfo *ei)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/state.db", dir) >= (int)sizeof path)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "data directory path too long");
    node_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    shoal_err err;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err =
            shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX, "%s: %s", path,
                              st->db ? sqlite3_errmsg(st->db) : "cannot open");
        goto fail_close;
    }
    sqlite3_busy_timeout(st->db, 5000);
    err = exec(st,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "PRAGMA foreign_keys=ON;",
               ei);
    if (err)
        goto fail_close;

    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            version = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    if (version > SCHEMA_VERSION) {
        err = shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                "%s: schema version %d is newer than this "
                                "shoald understands (%d)",
                                path, version, SCHEMA_VERSION);
        goto fail_close;
    }
    if (version < 1) {
        err = exec(st, "BEGIN", ei);
        if (!err)
            err = exec(st, schema_v1, ei);
        if (!err)
            err = exec(st, "PRAGMA user_version = 1; COMMIT", ei);
        if (err) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail_close;
        }
    }
    if (version < 2) {
        err = exec(st, "BEGIN", ei);
        if (!err)
            err = exec(st, schema_v2, ei);
        if (!err)
            err = exec(st, "PRAGMA user_version = 2; COMMIT", ei);
        if (err) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail_close;
        }
    }
    err = load_identity(st, ei);
    if (err)
        goto fail_close;
    *out = st;
    return SHOAL_OK;
fail_close:
    sqlite3_close(st->db);
    free(st);
    return err;
}

void store_close(node_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    free(st);
}

const char *store_node_name(node_store *st)
{
    return st->name;
}

uint16_t store_node_id(node_store *st)
{
    return st->id;
}

void store_checkpoint(node_store *st)
{
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                              NULL);
}

shoal_err store_module_put(node_store *st, const char *hash,
                           const uint8_t *bytes, size_t len)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO modules "
                           "(hash, bytes, size, stored_ms) VALUES (?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 2, bytes, len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
    sqlite3_bind_int64(s, 4, now_ms());
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SHOAL_OK : SHOAL_EIO;
}

bool store_module_has(node_store *st, const char *hash)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM modules WHERE hash = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

shoal_err store_module_get(node_store *st, const char *hash, uint8_t **bytes,
                           size_t *len)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT bytes FROM modules WHERE hash = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    shoal_err err = SHOAL_ENOTFOUND;
    if (sqlite3_step(s) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        uint8_t *b = malloc(n ? n : 1);
        if (b == NULL) {
            err = SHOAL_ENOMEM;
        } else {
            if (n)
                memcpy(b, sqlite3_column_blob(s, 0), n);
            *bytes = b;
            *len = n;
            err = SHOAL_OK;
        }
    }
    sqlite3_finalize(s);
    return err;
}

shoal_err store_module_gc(node_store *st, int64_t grace_ms,
                          bool (*referenced)(void *ctx, const char *hash),
                          void *ctx, unsigned *deleted)
{
    *deleted = 0;
    sqlite3_stmt *s, *d;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT hash FROM modules WHERE stored_ms < ?", -1,
                           &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM modules WHERE hash = ?", -1, &d,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return SHOAL_EIO;
    }
    sqlite3_bind_int64(s, 1, now_ms() - grace_ms);
    shoal_err err = SHOAL_OK;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(s, 0);
        if (hash == NULL || referenced(ctx, hash))
            continue;
        sqlite3_bind_text(d, 1, hash, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(d) == SQLITE_DONE)
            (*deleted)++;
        else
            err = SHOAL_EIO;
        sqlite3_reset(d);
    }
    sqlite3_finalize(d);
    sqlite3_finalize(s);
    return err;
}

shoal_err store_app_put(node_store *st, const store_app *app)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO apps (name, version, "
                           "manifest, file, spec, updated_ms, origin, "
                           "deleted) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, app->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, app->version);
    sqlite3_bind_text(s, 3, app->manifest, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, app->file ? app->file : "", -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 5, app->spec, app->spec_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, app->updated_ms);
    sqlite3_bind_text(s, 7, app->origin ? app->origin : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 8, app->deleted);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SHOAL_OK : SHOAL_EIO;
}

static char *column_strdup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

static shoal_err read_app(sqlite3_stmt *s, store_app *out)
{
    memset(out, 0, sizeof *out);
    out->name = column_strdup(s, 0);
    out->version = sqlite3_column_int64(s, 1);
    out->manifest = column_strdup(s, 2);
    out->file = column_strdup(s, 3);
    size_t n = (size_t)sqlite3_column_bytes(s, 4);
    out->spec = malloc(n ? n : 1);
    out->spec_len = n;
    out->updated_ms = sqlite3_column_int64(s, 5);
    out->origin = column_strdup(s, 6);
    out->deleted = sqlite3_column_int(s, 7) != 0;
    if (!out->name || !out->manifest || !out->file || !out->spec ||
        !out->origin) {
        store_app_clear(out);
        return SHOAL_ENOMEM;
    }
    if (n)
        memcpy(out->spec, sqlite3_column_blob(s, 4), n);
    return SHOAL_OK;
}

#define APP_COLUMNS                                                            \
    "name, version, manifest, file, spec, updated_ms, origin, deleted"

shoal_err store_app_get(node_store *st, const char *name, store_app *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " APP_COLUMNS " FROM apps WHERE name = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    shoal_err err = SHOAL_ENOTFOUND;
    if (sqlite3_step(s) == SQLITE_ROW)
        err = read_app(s, out);
    sqlite3_finalize(s);
    return err;
}

shoal_err store_app_list(node_store *st, store_app **out, size_t *n)
{
    sqlite3_stmt *s;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " APP_COLUMNS " FROM apps ORDER BY name", -1,
                           &s, NULL) != SQLITE_OK)
        return SHOAL_EIO;
    store_app *apps = NULL;
    size_t count = 0, cap = 0;
    shoal_err err = SHOAL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            store_app *na = realloc(apps, ncap * sizeof *na);
            if (na == NULL) {
                err = SHOAL_ENOMEM;
                break;
            }
            apps = na;
            cap = ncap;
        }
        err = read_app(s, &apps[count]);
        if (err)
            break;
        count++;
    }
    if (!err && rc != SQLITE_DONE)
        err = SHOAL_EIO;
    sqlite3_finalize(s);
    if (err) {
        store_app_list_free(apps, count);
        return err;
    }
    *out = apps;
    *n = count;
    return SHOAL_OK;
}

void store_app_list_free(store_app *apps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_app_clear(&apps[i]);
    free(apps);
}

shoal_err store_app_delete(node_store *st, const char *name)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM apps WHERE name = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return SHOAL_EIO;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return SHOAL_EIO;
    return sqlite3_changes(st->db) > 0 ? SHOAL_OK : SHOAL_ENOTFOUND;
}

void store_app_clear(store_app *app)
{
    free(app->name);
    free(app->manifest);
    free(app->file);
    free(app->spec);
    free(app->origin);
    memset(app, 0, sizeof *app);
}
