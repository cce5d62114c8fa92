/* The node's durable state (node/store.c) on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/shoal-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static node_store *open_store(const fixture *f)
{
    node_store *st = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = store_open(f->dir, &st, &ei);
    if (err)
        fprintf(stderr, "store_open: %s\n", ei.msg);
    assert_int_equal(err, SHOAL_OK);
    return st;
}

/* The identity is made once and kept across restarts. */
static void test_identity(void **state)
{
    fixture *f = *state;
    node_store *st = open_store(f);
    uint16_t id = store_node_id(st);
    char name[96];
    snprintf(name, sizeof name, "%s", store_node_name(st));
    assert_true(id >= 1 && id <= 0x7fff);
    assert_true(strlen(name) > 5);
    store_close(st);
    st = open_store(f);
    assert_int_equal(store_node_id(st), id);
    assert_string_equal(store_node_name(st), name);
    store_close(st);
}

static void test_modules(void **state)
{
    fixture *f = *state;
    node_store *st = open_store(f);
    const char *h1 =
        "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 =
        "2222222222222222222222222222222222222222222222222222222222222222";
    const uint8_t b1[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    assert_false(store_module_has(st, h1));
    assert_int_equal(store_module_put(st, h1, b1, sizeof b1), SHOAL_OK);
    assert_int_equal(store_module_put(st, h1, b1, sizeof b1), SHOAL_OK);
    assert_int_equal(store_module_put(st, h2, b1, 4), SHOAL_OK);
    assert_true(store_module_has(st, h1));
    uint8_t *bytes;
    size_t len;
    assert_int_equal(store_module_get(st, h1, &bytes, &len), SHOAL_OK);
    assert_int_equal(len, sizeof b1);
    assert_memory_equal(bytes, b1, sizeof b1);
    free(bytes);
    const char *h3 =
        "3333333333333333333333333333333333333333333333333333333333333333";
    assert_int_equal(store_module_get(st, h3, &bytes, &len), SHOAL_ENOTFOUND);
    store_close(st);
}

static bool keep_h1(void *ctx, const char *hash)
{
    (void)ctx;
    return hash[0] == '1';
}

/* Unreferenced modules go, but only those older than the grace period. */
static void test_module_gc(void **state)
{
    fixture *f = *state;
    node_store *st = open_store(f);
    const char *h1 =
        "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 =
        "2222222222222222222222222222222222222222222222222222222222222222";
    const uint8_t b[] = {1, 2, 3};
    store_module_put(st, h1, b, 3);
    store_module_put(st, h2, b, 3);
    unsigned gone = 99;
    assert_int_equal(store_module_gc(st, 60000, keep_h1, NULL, &gone),
                     SHOAL_OK);
    assert_int_equal(gone, 0); /* both too recent */
    assert_int_equal(store_module_gc(st, -1000, keep_h1, NULL, &gone),
                     SHOAL_OK);
    assert_int_equal(gone, 1);
    assert_true(store_module_has(st, h1));
    assert_false(store_module_has(st, h2));
    store_close(st);
}

static void test_apps(void **state)
{
    fixture *f = *state;
    node_store *st = open_store(f);
    uint8_t spec[] = {0x81, 0xa1, 'a', 0x01};
    store_app a = {.name = "shop",
                   .version = 1,
                   .manifest = "kind: x\n",
                   .file = "shop.yaml",
                   .spec = spec,
                   .spec_len = sizeof spec,
                   .updated_ms = 1234};
    assert_int_equal(store_app_put(st, &a), SHOAL_OK);
    a.name = "blog";
    assert_int_equal(store_app_put(st, &a), SHOAL_OK);
    a.name = "shop";
    a.version = 2;
    a.origin = "node-b";
    assert_int_equal(store_app_put(st, &a), SHOAL_OK);
    a.name = "gone"; /* a tombstone */
    a.version = 7;
    a.deleted = true;
    a.manifest = "";
    a.spec_len = 0;
    assert_int_equal(store_app_put(st, &a), SHOAL_OK);
    store_close(st);

    /* Durable: a new handle reads what was written. */
    st = open_store(f);
    store_app got;
    assert_int_equal(store_app_get(st, "shop", &got), SHOAL_OK);
    assert_int_equal(got.version, 2);
    assert_string_equal(got.manifest, "kind: x\n");
    assert_string_equal(got.file, "shop.yaml");
    assert_int_equal(got.spec_len, sizeof spec);
    assert_memory_equal(got.spec, spec, sizeof spec);
    assert_int_equal(got.updated_ms, 1234);
    assert_string_equal(got.origin, "node-b");
    assert_false(got.deleted);
    store_app_clear(&got);
    store_app *list;
    size_t n;
    assert_int_equal(store_app_list(st, &list, &n), SHOAL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "blog");
    assert_string_equal(list[0].origin, "");
    assert_false(list[0].deleted);
    assert_string_equal(list[1].name, "gone");
    assert_true(list[1].deleted);
    assert_int_equal(list[1].version, 7);
    assert_int_equal(list[1].spec_len, 0);
    assert_string_equal(list[2].name, "shop");
    store_app_list_free(list, n);
    assert_int_equal(store_app_delete(st, "blog"), SHOAL_OK);
    assert_int_equal(store_app_delete(st, "blog"), SHOAL_ENOTFOUND);
    assert_int_equal(store_app_get(st, "blog", &got), SHOAL_ENOTFOUND);
    store_checkpoint(st);
    store_close(st);
}

/* A database from a newer shoald is refused with a clear message. */
static void test_newer_schema(void **state)
{
    fixture *f = *state;
    store_close(open_store(f));
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    node_store *st = NULL;
    shoal_errinfo ei = {0};
    assert_int_equal(store_open(f->dir, &st, &ei), SHOAL_EIO);
    assert_non_null(strstr(ei.msg, "schema version 99"));
}

static void test_unwritable(void **state)
{
    (void)state;
    node_store *st = NULL;
    shoal_errinfo ei = {0};
    assert_int_equal(store_open("/nonexistent/dir", &st, &ei), SHOAL_EIO);
    assert_non_null(strstr(ei.msg, "/nonexistent/dir/state.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
