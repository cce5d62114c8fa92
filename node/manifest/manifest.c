/* Application manifests: the schema of docs/manifest.md over the tree that
 * tree.c reads, into a manifest_app; and the helpers of manifest.h that
 * work on apps (free, find, compare) and on units.
 *
 * Every field is checked where it stands: a missing field is reported at
 * the map that lacks it, anything else at the value or key that is wrong.
 * Checks that span entries (repeated actor names, repeated label keys) sort
 * the entries, so that a large manifest costs n log n, and report the first
 * repetition in document order.
 */
#include "manifest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest module path (PATH_MAX on Linux, without its NUL). */
#define MODULE_PATH_MAX 4095

/* ---- names and strings ---- */

static bool lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool alnum(char ch)
{
    return lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

bool manifest__name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* Label keys may hold '/' so that they can be prefixed, "example.com/zone".
 */
bool manifest__label_key_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.' &&
            s[i] != '/')
            return false;
    return true;
}

bool manifest__label_value_ok(const char *s, size_t len)
{
    if (len == 0)
        return true;
    if (len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

char *manifest__strndup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    if (len > 0)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* ---- units ---- */

/* Reads the leading decimal digits of s; *end is the first byte after
 * them. SHOAL_EINVAL without a digit, SHOAL_ELIMIT past 2^64-1. */
static shoal_err read_digits(const char *s, uint64_t *v, const char **end)
{
    uint64_t n = 0;
    bool overflow = false;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            overflow = true;
        n = n * 10 + d;
    }
    *end = p;
    if (p == s)
        return SHOAL_EINVAL;
    *v = n;
    return overflow ? SHOAL_ELIMIT : SHOAL_OK;
}

typedef struct unit {
    const char *suffix;
    uint64_t factor;
} unit;

static const unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"KB", 1000},
    {"kB", 1000},
    {"MB", 1000000},
    {"GB", 1000000000},
};

static const unit count_units[] = {
    {"", 1},
    {"k", 1000},
    {"M", 1000000},
    {"G", 1000000000},
};

static shoal_err parse_with_units(const char *s, const unit *units,
                                  size_t nunits, uint64_t *out)
{
    if (s == NULL || out == NULL)
        return SHOAL_EINVAL;
    uint64_t v = 0;
    const char *end;
    shoal_err err = read_digits(s, &v, &end);
    if (err == SHOAL_EINVAL)
        return err;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (err != SHOAL_OK || v > UINT64_MAX / units[i].factor)
            return SHOAL_ELIMIT;
        *out = v * units[i].factor;
        return SHOAL_OK;
    }
    return SHOAL_EINVAL;
}

shoal_err manifest_parse_size(const char *s, uint64_t *bytes)
{
    return parse_with_units(s, size_units,
                            sizeof size_units / sizeof size_units[0], bytes);
}

shoal_err manifest_parse_count(const char *s, uint64_t *n)
{
    return parse_with_units(s, count_units,
                            sizeof count_units / sizeof count_units[0], n);
}

/* ---- reading the tree ---- */

static shoal_err expected(manifest__ctx *c, const ynode *n, const char *what)
{
    char got[64];
    manifest__describe(n, got, sizeof got);
    return manifest__fail(c, n, NULL, "expected %s, got %s", what, got);
}

static bool core_tag(const char *tag, const char *name)
{
    static const char prefix[] = "tag:yaml.org,2002:";
    return strncmp(tag, prefix, sizeof prefix - 1) == 0 &&
           strcmp(tag + sizeof prefix - 1, name) == 0;
}

/* The text of a scalar that stands for a string, a size or a count: any
 * scalar but null, untagged or with a core scalar tag, without NULs. */
static shoal_err scalar_text(manifest__ctx *c, const ynode *n, const char *what,
                             const char **s, size_t *len)
{
    if (n->kind != YNODE_SCALAR || manifest__is_null(n))
        return expected(c, n, what);
    if (n->tag != NULL && strcmp(n->tag, "!") != 0 &&
        !core_tag(n->tag, "str") && !core_tag(n->tag, "int") &&
        !core_tag(n->tag, "float") && !core_tag(n->tag, "bool")) {
        char tag[64];
        manifest__tag_name(n->tag, tag, sizeof tag);
        return manifest__fail(c, n, NULL, "expected %s, got a value tagged %s",
                              what, tag);
    }
    if (memchr(n->text, '\0', n->len) != NULL)
        return manifest__fail(c, n, NULL, "a NUL character is not allowed");
    *s = n->text;
    *len = n->len;
    return SHOAL_OK;
}

/* A malloc'ed copy of a string field's text into *out. */
static shoal_err copy_text(manifest__ctx *c, const ynode *n, const char *what,
                           char **out)
{
    const char *s;
    size_t len;
    shoal_err err = scalar_text(c, n, what, &s, &len);
    if (err != SHOAL_OK)
        return err;
    *out = manifest__strndup(s, len);
    return *out != NULL ? SHOAL_OK : manifest__nomem(c);
}

static shoal_err copy_name(manifest__ctx *c, const ynode *n, char **out)
{
    const char *s;
    size_t len;
    shoal_err err = scalar_text(c, n, "a name", &s, &len);
    if (err != SHOAL_OK)
        return err;
    if (!manifest__name_ok(s, len)) {
        char got[64];
        manifest__quote(got, sizeof got, s, len);
        return manifest__fail(c, n, NULL,
                              "expected a name like \"my-app\" (a-z, 0-9 and "
                              "'-', at most 63), got %s",
                              got);
    }
    *out = manifest__strndup(s, len);
    return *out != NULL ? SHOAL_OK : manifest__nomem(c);
}

/* Checks that n is a map, with no tag but !!map. */
static shoal_err expect_map(manifest__ctx *c, const ynode *n)
{
    if (n->kind != YNODE_MAP)
        return expected(c, n, "a map");
    if (n->tag != NULL && strcmp(n->tag, "!") != 0 &&
        !core_tag(n->tag, "map")) {
        char tag[64];
        manifest__tag_name(n->tag, tag, sizeof tag);
        return manifest__fail(c, n, NULL, "expected a map, got a map tagged %s",
                              tag);
    }
    return SHOAL_OK;
}

/* A field of a map of the schema, and its value once found. */
typedef struct field {
    const char *name;
    const ynode *value;
} field;

/* Finds the fields of map n; anything else in it is an error. */
static shoal_err read_fields(manifest__ctx *c, const ynode *n, field *fields,
                             size_t nfields)
{
    shoal_err err = expect_map(c, n);
    if (err != SHOAL_OK)
        return err;
    for (const ynode *k = n->first; k != NULL; k = k->next->next) {
        if (k->kind != YNODE_SCALAR)
            return expected(c, k, "a field name");
        size_t i = 0;
        while (i < nfields && !(strlen(fields[i].name) == k->len &&
                                memcmp(fields[i].name, k->text, k->len) == 0))
            i++;
        if (i == nfields) {
            char known[160] = "";
            for (size_t j = 0; j < nfields; j++)
                snprintf(known + strlen(known), sizeof known - strlen(known),
                         "%s%s", j > 0 ? ", " : "", fields[j].name);
            return manifest__fail(c, k, NULL, "unknown field (expected %s%s)",
                                  nfields > 1 ? "one of " : "", known);
        }
        if (fields[i].value != NULL) {
            const ynode *first = fields[i].value->key;
            return manifest__fail(c, k, NULL,
                                  "duplicate field (first at line %zu, "
                                  "column %zu)",
                                  first->line + 1, first->column + 1);
        }
        fields[i].value = k->next;
    }
    return SHOAL_OK;
}

/* A text and the node it came from, for finding repetitions. */
typedef struct named {
    const char *s;
    size_t len;
    const ynode *n;
} named;

static int compare_named(const void *pa, const void *pb)
{
    const named *a = pa, *b = pb;
    size_t len = a->len < b->len ? a->len : b->len;
    int d = memcmp(a->s, b->s, len);
    if (d != 0)
        return d;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->n->offset < b->n->offset ? -1 : a->n->offset > b->n->offset;
}

static bool same_text(const named *a, const named *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Sorts items and returns the first of them in document order that repeats
 * an earlier one's text (*first: that earlier one), or NULL. */
static const named *first_repeat(named *items, size_t n, const named **first)
{
    if (n < 2)
        return NULL;
    qsort(items, n, sizeof *items, compare_named);
    const named *dup = NULL;
    for (size_t i = 1; i < n; i++) {
        if (!same_text(&items[i], &items[i - 1]) ||
            (i > 1 && same_text(&items[i - 1], &items[i - 2])))
            continue;
        if (dup == NULL || items[i].n->offset < dup->n->offset) {
            dup = &items[i];
            *first = &items[i - 1];
        }
    }
    return dup;
}

/* Checks a map of strings to strings (metadata's labels and annotations,
 * placement.labels): scalar keys and values, no key twice. With labels,
 * the keys and values follow the label rules, and *out gets a copy. */
static shoal_err read_string_map(manifest__ctx *c, const ynode *n, bool labels,
                                 manifest_label **out, size_t *nout)
{
    shoal_err err = expect_map(c, n);
    size_t count = n->count / 2;
    if (err != SHOAL_OK || count == 0)
        return err;
    named *keys = calloc(count, sizeof *keys);
    if (keys == NULL)
        return manifest__nomem(c);
    size_t i = 0;
    for (const ynode *k = n->first; k != NULL; k = k->next->next, i++) {
        const char *value;
        size_t value_len;
        err = scalar_text(c, k, "a string", &keys[i].s, &keys[i].len);
        if (err != SHOAL_OK)
            goto free_keys;
        keys[i].n = k;
        err = scalar_text(c, k->next, "a string", &value, &value_len);
        if (err != SHOAL_OK)
            goto free_keys;
        if (!labels)
            continue;
        char got[64];
        if (!manifest__label_key_ok(keys[i].s, keys[i].len)) {
            manifest__quote(got, sizeof got, keys[i].s, keys[i].len);
            err = manifest__fail(c, k, NULL,
                                 "expected a label key (letters, digits, "
                                 "'-', '_', '.', '/', at most 63), got %s",
                                 got);
            goto free_keys;
        }
        if (!manifest__label_value_ok(value, value_len)) {
            manifest__quote(got, sizeof got, value, value_len);
            err = manifest__fail(c, k->next, NULL,
                                 "expected a label value (letters, digits, "
                                 "'-', '_', '.', at most 63), got %s",
                                 got);
            goto free_keys;
        }
    }
    const named *first, *dup = first_repeat(keys, count, &first);
    if (dup != NULL) {
        err = manifest__fail(c, dup->n, NULL,
                             "duplicate key (first at line %zu, column %zu)",
                             first->n->line + 1, first->n->column + 1);
        goto free_keys;
    }
    if (!labels)
        goto free_keys;
    *out = calloc(count, sizeof **out);
    if (*out == NULL) {
        err = manifest__nomem(c);
        goto free_keys;
    }
    for (const ynode *k = n->first; k != NULL; k = k->next->next) {
        manifest_label *l = &(*out)[*nout];
        l->key = manifest__strndup(k->text, k->len);
        l->value = manifest__strndup(k->next->text, k->next->len);
        if (l->key == NULL || l->value == NULL) {
            free(l->key);
            free(l->value);
            err = manifest__nomem(c);
            goto free_keys;
        }
        (*nout)++;
    }
free_keys:
    free(keys);
    return err;
}

/* ---- the fields of an actor ---- */

/* "expected what, got ...", saying so when a quoted string was given where
 * the plain scalar would have been right. */
static shoal_err expected_typed(manifest__ctx *c, const ynode *n,
                                const yscalar *v, const char *what)
{
    if (n->kind != YNODE_SCALAR || n->plain || v->kind != YSCALAR_STR)
        return expected(c, n, what);
    char got[64];
    manifest__describe(n, got, sizeof got);
    return manifest__fail(c, n, NULL,
                          "expected %s, got the string %s (a quoted scalar is "
                          "a string)",
                          what, got);
}

static shoal_err read_replicas(manifest__ctx *c, const ynode *n, uint32_t *out)
{
    yscalar v = {0};
    const char *what = "an integer from 0 to 10000";
    if (n->kind != YNODE_SCALAR)
        return expected(c, n, what);
    shoal_err err = manifest__scalar(c, n, &v);
    if (err != SHOAL_OK)
        return err;
    if (v.kind != YSCALAR_INT || v.negative || v.u > MANIFEST_MAX_REPLICAS)
        return expected_typed(c, n, &v, what);
    *out = (uint32_t)v.u;
    return SHOAL_OK;
}

static shoal_err read_bool(manifest__ctx *c, const ynode *n, bool *out)
{
    yscalar v = {0};
    if (n->kind != YNODE_SCALAR)
        return expected(c, n, "true or false");
    shoal_err err = manifest__scalar(c, n, &v);
    if (err != SHOAL_OK)
        return err;
    if (v.kind != YSCALAR_BOOL)
        return expected_typed(c, n, &v, "true or false");
    *out = v.b;
    return SHOAL_OK;
}

/* A size or a count through parse (manifest_parse_size or _count). The
 * text is NUL-terminated and without NULs, so parse sees all of it. */
static shoal_err read_unit(manifest__ctx *c, const ynode *n, const char *what,
                           shoal_err (*parse)(const char *, uint64_t *),
                           uint64_t *out)
{
    const char *s;
    size_t len;
    shoal_err err = scalar_text(c, n, what, &s, &len);
    if (err != SHOAL_OK)
        return err;
    return parse(s, out);
}

static shoal_err read_memory(manifest__ctx *c, const ynode *n, uint64_t *out)
{
    uint64_t bytes = 0;
    shoal_err err =
        read_unit(c, n, "a size like 1MiB", manifest_parse_size, &bytes);
    if (err == SHOAL_EMANIFEST)
        return err;
    if (err == SHOAL_EINVAL)
        return expected(c, n, "a size like 1MiB");
    char got[64];
    manifest__describe(n, got, sizeof got);
    if (err == SHOAL_ELIMIT || bytes > MANIFEST_MAX_MEMORY)
        return manifest__fail(c, n, NULL, "at most 4GiB, got %s", got);
    if (bytes == 0)
        return manifest__fail(c, n, NULL,
                              "expected a size above 0 (leave it out for the "
                              "node's default), got %s",
                              got);
    /* Wasm memory comes in pages of 64 KiB. */
    *out = (bytes + MANIFEST_MEMORY_UNIT - 1) / MANIFEST_MEMORY_UNIT *
           MANIFEST_MEMORY_UNIT;
    return SHOAL_OK;
}

/* A count from min to max. */
static shoal_err read_count(manifest__ctx *c, const ynode *n, const char *what,
                            uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    shoal_err err = read_unit(c, n, what, manifest_parse_count, &v);
    if (err == SHOAL_EMANIFEST)
        return err;
    if (err == SHOAL_EINVAL)
        return expected(c, n, what);
    if (err == SHOAL_ELIMIT || v < min || v > max) {
        char range[80];
        if (max == UINT64_MAX)
            snprintf(range, sizeof range, "a count from %llu to 2^64-1",
                     (unsigned long long)min);
        else
            snprintf(range, sizeof range, "a count from %llu to %llu",
                     (unsigned long long)min, (unsigned long long)max);
        return expected(c, n, range);
    }
    *out = v;
    return SHOAL_OK;
}

static shoal_err read_limits(manifest__ctx *c, const ynode *n,
                             manifest_actor *a)
{
    field f[] = {
        {"memory", NULL}, {"fuel-per-message", NULL}, {"mailbox", NULL}};
    shoal_err err = read_fields(c, n, f, 3);
    if (err == SHOAL_OK && f[0].value != NULL)
        err = read_memory(c, f[0].value, &a->memory);
    if (err == SHOAL_OK && f[1].value != NULL)
        err = read_count(c, f[1].value, "a count like 10000000 or 10M", 1,
                         UINT64_MAX, &a->fuel_per_message);
    uint64_t mailbox = 0;
    if (err == SHOAL_OK && f[2].value != NULL) {
        err = read_count(c, f[2].value, "a count like 1024 or 1k", 1,
                         MANIFEST_MAX_MAILBOX, &mailbox);
        a->mailbox = (uint32_t)mailbox;
    }
    return err;
}

static shoal_err read_restart(manifest__ctx *c, const ynode *n,
                              manifest_restart *out)
{
    static const char *const names[] = {"always", "on-failure", "never"};
    const char *what = "always, on-failure or never";
    const char *s;
    size_t len;
    shoal_err err = scalar_text(c, n, what, &s, &len);
    if (err != SHOAL_OK)
        return err;
    for (size_t i = 0; i < 3; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            *out = (manifest_restart)i;
            return SHOAL_OK;
        }
    }
    return expected(c, n, what);
}

static shoal_err read_placement(manifest__ctx *c, const ynode *n,
                                manifest_actor *a)
{
    field f[] = {{"spread", NULL}, {"labels", NULL}};
    shoal_err err = read_fields(c, n, f, 2);
    if (err == SHOAL_OK && f[0].value != NULL)
        err = read_bool(c, f[0].value, &a->spread);
    if (err == SHOAL_OK && f[1].value != NULL)
        err = read_string_map(c, f[1].value, true, &a->labels, &a->nlabels);
    return err;
}

static shoal_err read_link(manifest__ctx *c, const ynode *n, manifest_link *l)
{
    field f[] = {{"provider", NULL}, {"config", NULL}};
    shoal_err err = read_fields(c, n, f, 2);
    if (err != SHOAL_OK)
        return err;
    l->line = (uint32_t)(n->line + 1);
    if (f[0].value == NULL)
        return manifest__fail(c, n, "provider", "missing required field");
    const char *s;
    size_t len;
    const char *what = "a provider name such as http-server or kv";
    err = scalar_text(c, f[0].value, what, &s, &len);
    if (err != SHOAL_OK)
        return err;
    if (!manifest__name_ok(s, len))
        return expected(c, f[0].value, what);
    l->provider = manifest__strndup(s, len);
    if (l->provider == NULL)
        return manifest__nomem(c);
    if (f[1].value == NULL) {
        l->config = malloc(1);
        if (l->config == NULL)
            return manifest__nomem(c);
        l->config[0] = 0x80; /* an empty map */
        l->config_len = 1;
        return SHOAL_OK;
    }
    err = expect_map(c, f[1].value);
    if (err != SHOAL_OK)
        return err;
    return manifest__pack_value(c, f[1].value, true, &l->config,
                                &l->config_len);
}

static shoal_err read_links(manifest__ctx *c, const ynode *n, manifest_actor *a)
{
    if (n->kind != YNODE_SEQ)
        return expected(c, n, "a list");
    if (n->count == 0)
        return SHOAL_OK;
    a->links = calloc(n->count, sizeof *a->links);
    if (a->links == NULL)
        return manifest__nomem(c);
    for (const ynode *item = n->first; item != NULL; item = item->next) {
        a->nlinks++;
        shoal_err err = read_link(c, item, &a->links[a->nlinks - 1]);
        if (err != SHOAL_OK)
            return err;
    }
    return SHOAL_OK;
}

enum {
    ACTOR_NAME,
    ACTOR_MODULE,
    ACTOR_REPLICAS,
    ACTOR_LIMITS,
    ACTOR_RESTART,
    ACTOR_INIT,
    ACTOR_PLACEMENT,
    ACTOR_LINKS,
    ACTOR_FIELDS
};

static shoal_err read_actor(manifest__ctx *c, const ynode *n, manifest_actor *a)
{
    field f[ACTOR_FIELDS] = {
        [ACTOR_NAME] = {"name", NULL},
        [ACTOR_MODULE] = {"module", NULL},
        [ACTOR_REPLICAS] = {"replicas", NULL},
        [ACTOR_LIMITS] = {"limits", NULL},
        [ACTOR_RESTART] = {"restart", NULL},
        [ACTOR_INIT] = {"init", NULL},
        [ACTOR_PLACEMENT] = {"placement", NULL},
        [ACTOR_LINKS] = {"links", NULL},
    };
    a->replicas = 1;
    a->spread = true;
    a->restart = MANIFEST_RESTART_ALWAYS;
    a->line = (uint32_t)(n->line + 1);
    shoal_err err = read_fields(c, n, f, ACTOR_FIELDS);
    if (err != SHOAL_OK)
        return err;
    if (f[ACTOR_NAME].value == NULL)
        return manifest__fail(c, n, "name", "missing required field");
    err = copy_name(c, f[ACTOR_NAME].value, &a->name);
    if (err != SHOAL_OK)
        return err;
    if (f[ACTOR_MODULE].value == NULL)
        return manifest__fail(c, n, "module", "missing required field");
    err = copy_text(c, f[ACTOR_MODULE].value, "a path to a .wasm file",
                    &a->module);
    if (err != SHOAL_OK)
        return err;
    if (a->module[0] == '\0') /* "" or a bare tag */
        return expected(c, f[ACTOR_MODULE].value, "a path to a .wasm file");
    if (strlen(a->module) > MODULE_PATH_MAX)
        return manifest__fail(c, f[ACTOR_MODULE].value, NULL,
                              "expected a path of at most %d bytes, got one "
                              "of %zu",
                              MODULE_PATH_MAX, strlen(a->module));
    if (f[ACTOR_REPLICAS].value != NULL)
        err = read_replicas(c, f[ACTOR_REPLICAS].value, &a->replicas);
    if (err == SHOAL_OK && f[ACTOR_LIMITS].value != NULL)
        err = read_limits(c, f[ACTOR_LIMITS].value, a);
    if (err == SHOAL_OK && f[ACTOR_RESTART].value != NULL)
        err = read_restart(c, f[ACTOR_RESTART].value, &a->restart);
    if (err == SHOAL_OK && f[ACTOR_INIT].value != NULL)
        err = manifest__pack_value(c, f[ACTOR_INIT].value, false, &a->init,
                                   &a->init_len);
    if (err == SHOAL_OK && f[ACTOR_PLACEMENT].value != NULL)
        err = read_placement(c, f[ACTOR_PLACEMENT].value, a);
    if (err == SHOAL_OK && f[ACTOR_LINKS].value != NULL)
        err = read_links(c, f[ACTOR_LINKS].value, a);
    return err;
}

static shoal_err read_actors(manifest__ctx *c, const ynode *n,
                             manifest_app *app)
{
    if (n->kind != YNODE_SEQ)
        return expected(c, n, "a list of actors");
    if (n->count == 0)
        return manifest__fail(c, n, NULL, "expected at least one actor");
    app->actors = calloc(n->count, sizeof *app->actors);
    if (app->actors == NULL)
        return manifest__nomem(c);
    for (const ynode *item = n->first; item != NULL; item = item->next) {
        app->nactors++;
        shoal_err err = read_actor(c, item, &app->actors[app->nactors - 1]);
        if (err != SHOAL_OK)
            return err;
    }

    named *names = calloc(app->nactors, sizeof *names);
    if (names == NULL)
        return manifest__nomem(c);
    size_t i = 0;
    for (const ynode *item = n->first; item != NULL; item = item->next, i++) {
        names[i].s = app->actors[i].name;
        names[i].len = strlen(app->actors[i].name);
        /* The name's node, for the message. */
        for (const ynode *k = item->first; k != NULL; k = k->next->next)
            if (k->len == 4 && memcmp(k->text, "name", 4) == 0)
                names[i].n = k->next;
    }
    shoal_err err = SHOAL_OK;
    const named *first, *dup = first_repeat(names, app->nactors, &first);
    if (dup != NULL)
        err = manifest__fail(c, dup->n, NULL,
                             "duplicate actor name \"%s\" (first at line %zu)",
                             dup->s, first->n->line + 1);
    free(names);
    return err;
}

static shoal_err read_metadata(manifest__ctx *c, const ynode *n,
                               manifest_app *app)
{
    field f[] = {{"name", NULL}, {"labels", NULL}, {"annotations", NULL}};
    shoal_err err = read_fields(c, n, f, 3);
    if (err != SHOAL_OK)
        return err;
    if (f[0].value == NULL)
        return manifest__fail(c, n, "name", "missing required field");
    err = copy_name(c, f[0].value, &app->name);
    /* Labels and annotations are for people and tools; they are checked
     * and then left out of the app. */
    if (err == SHOAL_OK && f[1].value != NULL)
        err = read_string_map(c, f[1].value, false, NULL, NULL);
    if (err == SHOAL_OK && f[2].value != NULL)
        err = read_string_map(c, f[2].value, false, NULL, NULL);
    return err;
}

/* A field that must hold exactly the text want. */
static shoal_err read_constant(manifest__ctx *c, const ynode *n,
                               const char *want)
{
    const char *s;
    size_t len;
    shoal_err err = scalar_text(c, n, want, &s, &len);
    if (err != SHOAL_OK)
        return err;
    if (strlen(want) != len || memcmp(want, s, len) != 0)
        return expected(c, n, want);
    return SHOAL_OK;
}

static shoal_err read_app(manifest__ctx *c, const ynode *root,
                          manifest_app *app)
{
    field f[] = {{"apiVersion", NULL},
                 {"kind", NULL},
                 {"metadata", NULL},
                 {"spec", NULL}};
    shoal_err err = read_fields(c, root, f, 4);
    if (err != SHOAL_OK)
        return err;
    /* In this order, so that a manifest of another kind is told so rather
     * than what it lacks. */
    for (size_t i = 0; i < 3; i++) {
        if (f[i].value == NULL)
            return manifest__fail(c, root, f[i].name, "missing required field");
        if (i == 0)
            err = read_constant(c, f[0].value, "shoal/v1");
        else if (i == 1)
            err = read_constant(c, f[1].value, "Application");
        else
            err = read_metadata(c, f[2].value, app);
        if (err != SHOAL_OK)
            return err;
    }
    if (f[3].value == NULL)
        return manifest__fail(c, root, "spec", "missing required field");
    field spec[] = {{"actors", NULL}};
    err = read_fields(c, f[3].value, spec, 1);
    if (err != SHOAL_OK)
        return err;
    if (spec[0].value == NULL)
        return manifest__fail(c, f[3].value, "actors",
                              "missing required field");
    return read_actors(c, spec[0].value, app);
}

shoal_err manifest_parse(const char *text, size_t len, const char *file,
                         manifest_app **out, shoal_errinfo *ei)
{
    if (out == NULL || (text == NULL && len > 0))
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "manifest_parse: a NULL argument");
    if (file == NULL)
        file = "manifest";
    if (len > MANIFEST_MAX_SIZE)
        return shoal_errinfo_set(ei, SHOAL_EMANIFEST, 0,
                                 "%s:1:1: the manifest is larger than 1 MiB "
                                 "(%zu bytes)",
                                 file, len);
    manifest__ctx c = {
        .file = file, .text = text != NULL ? text : "", .len = len, .ei = ei};
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        c.bom = 3;
    c.conv_bytes = c.bom;

    const ynode *root = NULL;
    manifest_app *app = NULL;
    shoal_err err = manifest__load(&c, &root);
    if (err != SHOAL_OK)
        goto free_tree;
    app = calloc(1, sizeof *app);
    if (app == NULL) {
        err = manifest__nomem(&c);
        goto free_tree;
    }
    err = read_app(&c, root, app);
free_tree:
    manifest__arena_free(&c.arena);
    if (err != SHOAL_OK) {
        manifest_free(app);
        return err;
    }
    *out = app;
    return SHOAL_OK;
}

/* ---- apps ---- */

void manifest_free(manifest_app *app)
{
    if (app == NULL)
        return;
    for (size_t i = 0; i < app->nactors; i++) {
        manifest_actor *a = &app->actors[i];
        free(a->name);
        free(a->module);
        free(a->init);
        for (size_t j = 0; j < a->nlabels; j++) {
            free(a->labels[j].key);
            free(a->labels[j].value);
        }
        free(a->labels);
        for (size_t j = 0; j < a->nlinks; j++) {
            free(a->links[j].provider);
            free(a->links[j].config);
        }
        free(a->links);
    }
    free(app->actors);
    free(app->name);
    free(app);
}

manifest_actor *manifest_find_actor(const manifest_app *app, const char *name)
{
    if (app == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < app->nactors; i++)
        if (str_eq(app->actors[i].name, name))
            return &app->actors[i];
    return NULL;
}

static bool bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    if (a == NULL || b == NULL)
        return a == b;
    return alen == blen && memcmp(a, b, alen) == 0;
}

bool manifest_actor_same_template(const manifest_actor *a,
                                  const manifest_actor *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    /* The module is its hash; the path stands for it only while neither
     * actor has one, as in manifest_encode. */
    bool same_module = a->module_hash[0] != '\0' || b->module_hash[0] != '\0'
                           ? strcmp(a->module_hash, b->module_hash) == 0
                           : str_eq(a->module, b->module);
    if (!str_eq(a->name, b->name) || !same_module || a->memory != b->memory ||
        a->fuel_per_message != b->fuel_per_message ||
        a->mailbox != b->mailbox || a->restart != b->restart ||
        a->spread != b->spread ||
        !bytes_eq(a->init, a->init_len, b->init, b->init_len) ||
        a->nlabels != b->nlabels || a->nlinks != b->nlinks)
        return false;
    for (size_t i = 0; i < a->nlabels; i++)
        if (!str_eq(a->labels[i].key, b->labels[i].key) ||
            !str_eq(a->labels[i].value, b->labels[i].value))
            return false;
    for (size_t i = 0; i < a->nlinks; i++)
        if (!str_eq(a->links[i].provider, b->links[i].provider) ||
            !bytes_eq(a->links[i].config, a->links[i].config_len,
                      b->links[i].config, b->links[i].config_len))
            return false;
    return true;
}
