/* Tests of node/manifest: the example of docs/manifest.md, defaults, units,
 * every kind of error with its exact message and position, the typing of
 * init and config values, the canonical encoding (round trips, equal bytes
 * for manifests that mean the same, a stored example), templates,
 * allocation failures, and the inputs the fuzzer found.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,free,
 * strdup and with libyaml's static library, so that it can count and fail
 * the allocations of the manifest module and of libyaml both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>

#include "manifest.h"
#include "failalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

char *__wrap_strdup(const char *s);

/* libyaml copies strings with strdup. */
char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- helpers ---- */

/* The first lines of most manifests below; an actor's own fields follow
 * from line 9, column 7. */
#define HEAD                                                                   \
    "apiVersion: shoal/v1\n"                                                   \
    "kind: Application\n"                                                      \
    "metadata:\n"                                                              \
    "  name: app\n"                                                            \
    "spec:\n"                                                                  \
    "  actors:\n"                                                              \
    "    - name: a\n"                                                          \
    "      module: a.wasm\n"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static char *example_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/examples/%s", MANIFEST_TEST_DIR, name);
    return path;
}

/* Parses text, which must be right. */
static manifest_app *parse_ok(const char *text)
{
    manifest_app *app = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = manifest_parse(text, strlen(text), "app.yaml", &app, &ei);
    if (err != SHOAL_OK)
        fail_msg("%s: %s\n%s", shoal_err_name(err), ei.msg, text);
    assert_non_null(app);
    return app;
}

/* Parses text, which must be refused with exactly the message want; the
 * offset must be where the message's line and column say. The same without
 * an errinfo. */
static void parse_fails(const char *text, size_t len, const char *want)
{
    manifest_app *app = (manifest_app *)1;
    shoal_errinfo ei = {0};
    shoal_err err = manifest_parse(text, len, "app.yaml", &app, &ei);
    if (err != SHOAL_EMANIFEST)
        fail_msg("got %s, want EMANIFEST %s\n%s", shoal_err_name(err), want,
                 text);
    if (strcmp(ei.msg, want) != 0)
        fail_msg("got  %s\nwant %s\n%s", ei.msg, want, text);
    assert_ptr_equal(app, (manifest_app *)1);
    assert_int_equal(manifest_parse(text, len, "app.yaml", &app, NULL),
                     SHOAL_EMANIFEST);

    size_t line = 0, column = 0;
    assert_int_equal(sscanf(ei.msg, "app.yaml:%zu:%zu:", &line, &column), 2);
    size_t l = 1, c = 1;
    assert_true(ei.offset <= len);
    for (size_t i = 0; i < ei.offset; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    if (l != line || c != column)
        fail_msg("offset %zu is at %zu:%zu, the message says %zu:%zu",
                 ei.offset, l, c, line, column);
}

static void fails(const char *text, const char *want)
{
    parse_fails(text, strlen(text), want);
}

/* msgpack of the packer's calls, to compare with. */
typedef struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packed;

static void packed_init(packed *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void pack_s(packed *b, const char *s)
{
    msgpack_pack_str_with_body(&b->pk, s, strlen(s));
}

static void assert_bytes(const uint8_t *got, size_t got_len, const packed *want)
{
    if (got_len != want->sb.size || memcmp(got, want->sb.data, got_len) != 0) {
        char g[512] = "", w[512] = "";
        for (size_t i = 0; i < got_len && i < 200; i++)
            snprintf(g + strlen(g), sizeof g - strlen(g), "%02x", got[i]);
        for (size_t i = 0; i < want->sb.size && i < 200; i++)
            snprintf(w + strlen(w), sizeof w - strlen(w), "%02x",
                     (uint8_t)want->sb.data[i]);
        fail_msg("got  %s\nwant %s", g, w);
    }
}

/* The init value of a one-actor manifest whose actor says `init: VALUE`. */
static manifest_app *with_init(const char *value)
{
    char text[2048];
    snprintf(text, sizeof text, HEAD "      init: %s\n", value);
    return parse_ok(text);
}

static uint8_t *encode(const manifest_app *app, size_t *len)
{
    uint8_t *bytes = NULL;
    assert_int_equal(manifest_encode(app, &bytes, len), SHOAL_OK);
    return bytes;
}

/* ---- the example ---- */

static void test_full_example(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(example_path("counter.yaml"), &len);
    manifest_app *app = parse_ok(text);
    assert_string_equal(app->name, "counter");
    assert_int_equal(app->nactors, 1);
    manifest_actor *a = &app->actors[0];
    assert_string_equal(a->name, "counter");
    assert_string_equal(a->module, "./counter.wasm");
    assert_string_equal(a->module_hash, "");
    assert_int_equal(a->replicas, 3);
    assert_int_equal(a->memory, 1 << 20);
    assert_int_equal(a->fuel_per_message, 10000000);
    assert_int_equal(a->mailbox, 1024);
    assert_int_equal(a->restart, MANIFEST_RESTART_ALWAYS);
    assert_true(a->spread);
    assert_int_equal(a->line, 8);

    packed want;
    packed_init(&want);
    msgpack_pack_map(&want.pk, 1);
    pack_s(&want, "greeting");
    pack_s(&want, "hello");
    assert_bytes(a->init, a->init_len, &want);
    msgpack_sbuffer_destroy(&want.sb);

    assert_int_equal(a->nlabels, 1);
    assert_string_equal(a->labels[0].key, "zone");
    assert_string_equal(a->labels[0].value, "a");

    assert_int_equal(a->nlinks, 2);
    assert_string_equal(a->links[0].provider, "http-server");
    assert_int_equal(a->links[0].line, 16);
    /* Keys sorted by their encoding: "path" is shorter than "address". */
    packed_init(&want);
    msgpack_pack_map(&want.pk, 2);
    pack_s(&want, "path");
    pack_s(&want, "/");
    pack_s(&want, "address");
    pack_s(&want, "0.0.0.0:8080");
    assert_bytes(a->links[0].config, a->links[0].config_len, &want);
    msgpack_sbuffer_destroy(&want.sb);

    assert_string_equal(a->links[1].provider, "kv");
    assert_int_equal(a->links[1].line, 18);
    packed_init(&want);
    msgpack_pack_map(&want.pk, 1);
    pack_s(&want, "bucket");
    pack_s(&want, "counters");
    assert_bytes(a->links[1].config, a->links[1].config_len, &want);
    msgpack_sbuffer_destroy(&want.sb);

    assert_ptr_equal(manifest_find_actor(app, "counter"), a);
    assert_null(manifest_find_actor(app, "count"));
    assert_null(manifest_find_actor(app, NULL));
    assert_null(manifest_find_actor(NULL, "counter"));
    manifest_free(app);
    free(text);
}

/* Several actors, each other restart policy, a byte order mark, CRLF line
 * ends and metadata's labels and annotations (checked, then dropped). */
static void test_several_actors(void **state)
{
    (void)state;
    manifest_app *app = parse_ok(
        "\xef\xbb\xbf"
        "apiVersion: shoal/v1\r\n"
        "kind: Application\r\n"
        "metadata:\r\n"
        "  name: shop-2\r\n"
        "  labels: {team: web}\r\n"
        "  annotations: {note: \"anything: at all\"}\r\n"
        "spec:\r\n"
        "  actors:\r\n"
        "  - name: web\r\n"
        "    module: web.wasm\r\n"
        "    restart: on-failure\r\n"
        "  - name: db-0\r\n"
        "    module: /abs/db.wasm\r\n"
        "    restart: never\r\n"
        "    replicas: 0\r\n"
        "    placement:\r\n"
        "      spread: false\r\n"
        "      labels: {example.com/zone: eu-1, disk: ssd, empty: \"\"}\r\n");
    assert_string_equal(app->name, "shop-2");
    assert_int_equal(app->nactors, 2);
    assert_string_equal(app->actors[0].name, "web");
    assert_int_equal(app->actors[0].line, 9);
    assert_int_equal(app->actors[0].restart, MANIFEST_RESTART_ON_FAILURE);
    manifest_actor *db = manifest_find_actor(app, "db-0");
    assert_ptr_equal(db, &app->actors[1]);
    assert_int_equal(db->line, 12);
    assert_int_equal(db->restart, MANIFEST_RESTART_NEVER);
    assert_int_equal(db->replicas, 0);
    assert_false(db->spread);
    /* Labels keep the manifest's order. */
    assert_int_equal(db->nlabels, 3);
    assert_string_equal(db->labels[0].key, "example.com/zone");
    assert_string_equal(db->labels[0].value, "eu-1");
    assert_string_equal(db->labels[1].key, "disk");
    assert_string_equal(db->labels[2].key, "empty");
    assert_string_equal(db->labels[2].value, "");
    manifest_free(app);
}

static void test_defaults(void **state)
{
    (void)state;
    manifest_app *app = parse_ok(HEAD);
    manifest_actor *a = &app->actors[0];
    assert_int_equal(a->replicas, 1);
    assert_int_equal(a->memory, 0);
    assert_int_equal(a->fuel_per_message, 0);
    assert_int_equal(a->mailbox, 0);
    assert_int_equal(a->restart, MANIFEST_RESTART_ALWAYS);
    assert_null(a->init);
    assert_int_equal(a->init_len, 0);
    assert_true(a->spread);
    assert_int_equal(a->nlabels, 0);
    assert_null(a->labels);
    assert_int_equal(a->nlinks, 0);
    assert_null(a->links);
    assert_int_equal(a->line, 7);
    manifest_free(app);

    /* Empty limits, placement and links; a link without config gets an
     * empty map. */
    app = parse_ok(HEAD "      limits: {}\n"
                        "      placement: {}\n"
                        "      links: [{provider: my-provider}]\n");
    a = &app->actors[0];
    assert_int_equal(a->memory, 0);
    assert_true(a->spread);
    assert_int_equal(a->nlinks, 1);
    assert_string_equal(a->links[0].provider, "my-provider");
    assert_int_equal(a->links[0].config_len, 1);
    assert_int_equal(a->links[0].config[0], 0x80);
    manifest_free(app);
}

/* ---- units ---- */

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t bytes;
    } good[] = {
        {"0", 0},
        {"4096", 4096},
        {"4096B", 4096},
        {"64KiB", 64 << 10},
        {"1MiB", 1 << 20},
        {"2GiB", 2ull << 30},
        {"1KB", 1000},
        {"1kB", 1000},
        {"1MB", 1000000},
        {"3GB", 3000000000ull},
        {"007MiB", 7 << 20},
        {"18446744073709551615", UINT64_MAX},
        {"17179869183GiB", 17179869183ull << 30},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(manifest_parse_size(good[i].s, &v), SHOAL_OK);
        assert_int_equal(v, good[i].bytes);
    }
    static const char *const bad[] = {
        "",     "MiB",  "1.5MiB", "1 MiB", " 1", "1 ", "-1",
        "+1",   "1mib", "1Mib",   "1M",    "1k", "1K", "1TiB",
        "0x10", "1e6",  "1MiBs",  "1iB",   "1b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        if (manifest_parse_size(bad[i], &v) != SHOAL_EINVAL)
            fail_msg("\"%s\" is not a size", bad[i]);
        assert_int_equal(v, 7);
    }
    uint64_t v;
    assert_int_equal(manifest_parse_size("18446744073709551616", &v),
                     SHOAL_ELIMIT);
    assert_int_equal(manifest_parse_size("17179869184GiB", &v), SHOAL_ELIMIT);
    assert_int_equal(manifest_parse_size("99999999999999999999KiB", &v),
                     SHOAL_ELIMIT);
    /* Syntax first: an overflowing number with a wrong unit is no size. */
    assert_int_equal(manifest_parse_size("99999999999999999999XB", &v),
                     SHOAL_EINVAL);
    assert_int_equal(manifest_parse_size(NULL, &v), SHOAL_EINVAL);
    assert_int_equal(manifest_parse_size("1", NULL), SHOAL_EINVAL);
}

static void test_counts(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t n;
    } good[] = {
        {"0", 0},
        {"10000000", 10000000},
        {"5k", 5000},
        {"10M", 10000000},
        {"1G", 1000000000},
        {"18446744073709551615", UINT64_MAX},
        {"18446744073k", 18446744073000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(manifest_parse_count(good[i].s, &v), SHOAL_OK);
        assert_int_equal(v, good[i].n);
    }
    static const char *const bad[] = {"",    "k",    "1K",   "1m",
                                      "1g",  "1 k",  "1.5k", "-1",
                                      "1e6", "0x10", "1Mi",  "1MiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (manifest_parse_count(bad[i], &v) != SHOAL_EINVAL)
            fail_msg("\"%s\" is not a count", bad[i]);
    }
    uint64_t v;
    assert_int_equal(manifest_parse_count("18446744073709552G", &v),
                     SHOAL_ELIMIT);
    assert_int_equal(manifest_parse_count("18446744073709551616", &v),
                     SHOAL_ELIMIT);
    assert_int_equal(manifest_parse_count(NULL, &v), SHOAL_EINVAL);
}

/* limits as the manifest has them: memory rounded up to 64 KiB. */
static void test_limits(void **state)
{
    (void)state;
    static const struct {
        const char *limits;
        uint64_t memory, fuel;
        uint32_t mailbox;
    } cases[] = {
        {"{memory: 1}", 65536, 0, 0},
        {"{memory: 65536}", 65536, 0, 0},
        {"{memory: 65537}", 131072, 0, 0},
        {"{memory: 1MB}", 1048576, 0, 0},
        {"{memory: \"1MiB\"}", 1048576, 0, 0},
        {"{memory: 1024KiB}", 1048576, 0, 0},
        {"{memory: 4GiB}", 4ull << 30, 0, 0},
        {"{memory: 4294967295}", 4ull << 30, 0, 0},
        {"{memory: 4GB}", 4000055296ull, 0, 0},
        {"{fuel-per-message: 1}", 0, 1, 0},
        {"{fuel-per-message: 10M}", 0, 10000000, 0},
        {"{fuel-per-message: 18446744073709551615}", 0, UINT64_MAX, 0},
        {"{mailbox: 1}", 0, 0, 1},
        {"{mailbox: 1k}", 0, 0, 1000},
        {"{mailbox: 1M}", 0, 0, 1000000},
        {"{mailbox: !!int 16}", 0, 0, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, HEAD "      limits: %s\n", cases[i].limits);
        manifest_app *app = parse_ok(text);
        assert_int_equal(app->actors[0].memory, cases[i].memory);
        assert_int_equal(app->actors[0].fuel_per_message, cases[i].fuel);
        assert_int_equal(app->actors[0].mailbox, cases[i].mailbox);
        manifest_free(app);
    }
}

/* ---- errors ---- */

static void test_document_errors(void **state)
{
    (void)state;
    fails("", "app.yaml:1:1: the manifest is empty");
    fails("# nothing but a comment\n", "app.yaml:1:1: the manifest is empty");
    fails("---\n", "app.yaml:1:1: the manifest is empty");
    parse_fails(NULL, 0, "app.yaml:1:1: the manifest is empty");
    fails(HEAD "---\nkind: Application\n",
          "app.yaml:9:1: a second YAML document; a manifest holds one "
          "application");
    fails(HEAD "...\n---\n",
          "app.yaml:10:1: a second YAML document; a manifest holds one "
          "application");
    /* libyaml's own words, with its context. */
    fails("apiVersion: [shoal/v1\nkind: Application\n",
          "app.yaml:2:5: did not find expected ',' or ']' (while parsing a "
          "flow sequence at line 1, column 13)");
    fails("a: b: c\n",
          "app.yaml:1:5: mapping values are not allowed in this context");
    fails("{", "app.yaml:1:2: did not find expected node content (while "
               "parsing a flow node at line 1, column 2)");
    fails("a:\n\tb: 1\n", "app.yaml:2:1: found character that cannot start "
                          "any token (while scanning for the next token at "
                          "line 2, column 1)");
    /* Bytes that are not UTF-8, and control characters. */
    fails("kind: \xff\n", "app.yaml:1:7: invalid leading UTF-8 octet (#FF)");
    fails("kind: caf\xc3\xa9\nx: \xc3\n",
          "app.yaml:2:5: invalid trailing UTF-8 octet (#A)");
    parse_fails("kind: a\0b\n", 10,
                "app.yaml:1:8: control characters are not allowed (#0)");
    fails("kind: \x01\n",
          "app.yaml:1:7: control characters are not allowed (#1)");
    /* UTF-16 is not read. */
    parse_fails("\xff\xfek\0:\0 \0a\0", 10,
                "app.yaml:1:1: invalid leading UTF-8 octet (#FF)");

    char *big = malloc(MANIFEST_MAX_SIZE + 1);
    assert_non_null(big);
    memset(big, ' ', MANIFEST_MAX_SIZE + 1);
    parse_fails(big, MANIFEST_MAX_SIZE + 1,
                "app.yaml:1:1: the manifest is larger than 1 MiB (1048577 "
                "bytes)");
    /* At the limit it is read: all blanks, so empty. */
    parse_fails(big, MANIFEST_MAX_SIZE, "app.yaml:1:1: the manifest is empty");
    free(big);

    /* Other arguments. */
    manifest_app *app;
    shoal_errinfo ei;
    assert_int_equal(manifest_parse(NULL, 1, "x", &app, &ei), SHOAL_EINVAL);
    assert_int_equal(manifest_parse("a", 1, "x", NULL, &ei), SHOAL_EINVAL);
    assert_int_equal(manifest_parse("a: [", 4, NULL, &app, &ei),
                     SHOAL_EMANIFEST);
    assert_int_equal(strncmp(ei.msg, "manifest:1:5: ", 14), 0);
}

static void test_root_errors(void **state)
{
    (void)state;
    fails("[1, 2]\n", "app.yaml:1:1: manifest: expected a map, got a list");
    fails("hello\n", "app.yaml:1:1: manifest: expected a map, got \"hello\"");
    fails("~\n", "app.yaml:1:1: manifest: expected a map, got null");
    fails("kind: Application\n",
          "app.yaml:1:1: apiVersion: missing required field");
    fails("apiVersion: shoal/v2\nspec: 1\n",
          "app.yaml:1:13: apiVersion: expected shoal/v1, got \"shoal/v2\"");
    fails("apiVersion: shoal/v1\nkind: Deployment\n",
          "app.yaml:2:7: kind: expected Application, got \"Deployment\"");
    fails("apiVersion: shoal/v1\nkind: [Application]\n",
          "app.yaml:2:7: kind: expected Application, got a list");
    fails("apiVersion: shoal/v1\nkind: Application\nspec: {}\n",
          "app.yaml:1:1: metadata: missing required field");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n",
          "app.yaml:1:1: spec: missing required field");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {}\nspec: {}\n",
          "app.yaml:3:11: metadata.name: missing required field");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n"
          "spec: {}\n",
          "app.yaml:4:7: spec.actors: missing required field");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n"
          "spec: {actors: []}\n",
          "app.yaml:4:16: spec.actors: expected at least one actor");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n"
          "spec: {actors: {name: a}}\n",
          "app.yaml:4:16: spec.actors: expected a list of actors, got a map");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: [a]\n",
          "app.yaml:3:11: metadata: expected a map, got a list");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata:\nspec:\n",
          "app.yaml:3:10: metadata: expected a map, got null");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n"
          "spec: !!set {actors: []}\n",
          "app.yaml:4:7: spec: expected a map, got a map tagged !!set");
}

static void test_unknown_fields(void **state)
{
    (void)state;
    fails("apiVersion: shoal/v1\nkinds: Application\n",
          "app.yaml:2:1: kinds: unknown field (expected one of apiVersion, "
          "kind, metadata, spec)");
    fails("apiVersion: shoal/v1\nkind: Application\n"
          "metadata: {name: a, namespace: b}\n",
          "app.yaml:3:21: metadata.namespace: unknown field (expected one of "
          "name, labels, annotations)");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: a}\n"
          "spec: {actors: [], replicas: 1}\n",
          "app.yaml:4:20: spec.replicas: unknown field (expected actors)");
    fails(HEAD "      limitz: {}\n",
          "app.yaml:9:7: spec.actors[0].limitz: unknown field (expected one "
          "of name, module, replicas, limits, restart, init, placement, "
          "links)");
    fails(HEAD "      limits: {memory: 1MiB, cpu: 1}\n",
          "app.yaml:9:30: spec.actors[0].limits.cpu: unknown field (expected "
          "one of memory, fuel-per-message, mailbox)");
    fails(HEAD "      limits: {fuel_per_message: 1}\n",
          "app.yaml:9:16: spec.actors[0].limits.fuel_per_message: unknown "
          "field (expected one of memory, fuel-per-message, mailbox)");
    fails(HEAD "      placement: {labels: {}, zone: a}\n",
          "app.yaml:9:31: spec.actors[0].placement.zone: unknown field "
          "(expected one of spread, labels)");
    fails(HEAD "      links:\n        - provider: kv\n          bucket: b\n",
          "app.yaml:11:11: spec.actors[0].links[0].bucket: unknown field "
          "(expected one of provider, config)");
    fails(HEAD "      \"odd key\": 1\n",
          "app.yaml:9:7: spec.actors[0][\"odd key\"]: unknown field "
          "(expected one of name, module, replicas, limits, restart, init, "
          "placement, links)");
    fails(HEAD "      ? [a]\n      : 1\n",
          "app.yaml:9:9: spec.actors[0][?]: expected a field name, got a "
          "list");
}

static void test_duplicates(void **state)
{
    (void)state;
    fails("apiVersion: shoal/v1\nkind: Application\napiVersion: shoal/v1\n",
          "app.yaml:3:1: apiVersion: duplicate field (first at line 1, "
          "column 1)");
    fails(HEAD "      module: b.wasm\n",
          "app.yaml:9:7: spec.actors[0].module: duplicate field (first at "
          "line 8, column 7)");
    fails(HEAD "      limits: {mailbox: 1, \"mailbox\": 2}\n",
          "app.yaml:9:28: spec.actors[0].limits.mailbox: duplicate field "
          "(first at line 9, column 16)");
    fails(HEAD "    - name: b\n      module: b.wasm\n"
               "    - name: a\n      module: c.wasm\n",
          "app.yaml:11:13: spec.actors[2].name: duplicate actor name \"a\" "
          "(first at line 7)");
    fails(HEAD "      placement: {labels: {zone: a, disk: b, zone: c}}\n",
          "app.yaml:9:46: spec.actors[0].placement.labels.zone: duplicate key "
          "(first at line 9, column 28)");
    fails("apiVersion: shoal/v1\nkind: Application\n"
          "metadata: {name: a, annotations: {x: 1, y: 2, x: 3}}\n",
          "app.yaml:3:47: metadata.annotations.x: duplicate key (first at "
          "line 3, column 35)");
    /* In init, keys are compared as typed values: 1 and 0x1 are the same,
     * 1 and "1" are not. */
    fails(HEAD "      init: {b: 0, a: 1, b: 2, a: 3}\n",
          "app.yaml:9:26: spec.actors[0].init.b: duplicate key (first at line "
          "9, column 14)");
    fails(HEAD "      init: {1: a, \"1\": b, 0x1: c}\n",
          "app.yaml:9:28: spec.actors[0].init.0x1: duplicate key (first at "
          "line 9, column 14)");
    fails(HEAD "      init: {~: a, null: b}\n",
          "app.yaml:9:20: spec.actors[0].init.null: duplicate key (first at "
          "line 9, column 14)");
    /* In config, keys are strings as written. */
    fails(HEAD "      links: [{provider: kv, config: {a: {1: x, \"1\": y}}}]\n",
          "app.yaml:9:49: spec.actors[0].links[0].config.a.1: duplicate "
          "key (first at line 9, column 43)");
}

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a",
                                       "0",
                                       "a-b",
                                       "a--b",
                                       "123",
                                       ("abcdefghijklmnopqrstuvwxyz0123456789-"
                                        "abcdefghijklmnopqrstuvwxyz")};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "apiVersion: shoal/v1\nkind: Application\nmetadata: {name: "
                 "\"%s\"}\nspec: {actors: [{name: \"%s\", module: m, links: "
                 "[{provider: \"%s\"}]}]}\n",
                 good[i], good[i], good[i]);
        manifest_app *app = parse_ok(text);
        assert_string_equal(app->name, good[i]);
        assert_string_equal(app->actors[0].name, good[i]);
        assert_string_equal(app->actors[0].links[0].provider, good[i]);
        manifest_free(app);
    }
    static const char *const bad[] = {
        "\"\"",
        "Counter",
        "-a",
        "a-",
        "a_b",
        "a.b",
        "a b",
        "é",
        "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512], want[512], got[128];
        /* Quoted as messages quote, long ones cut. */
        if (bad[i][0] == '"')
            snprintf(got, sizeof got, "%s", bad[i]);
        else if (strlen(bad[i]) > 49)
            snprintf(got, sizeof got, "\"%.49s...\"", bad[i]);
        else
            snprintf(got, sizeof got, "\"%s\"", bad[i]);
        snprintf(text, sizeof text,
                 "apiVersion: shoal/v1\nkind: Application\nmetadata:\n  "
                 "name: %s\n",
                 bad[i]);
        snprintf(want, sizeof want,
                 "app.yaml:4:9: metadata.name: expected a name like "
                 "\"my-app\" (a-z, 0-9 and '-', at most 63), got %s",
                 got);
        fails(text, want);
        snprintf(text, sizeof text, HEAD "    - name: %s\n      module: b\n",
                 bad[i]);
        snprintf(want, sizeof want,
                 "app.yaml:9:13: spec.actors[1].name: expected a name like "
                 "\"my-app\" (a-z, 0-9 and '-', at most 63), got %s",
                 got);
        fails(text, want);
        snprintf(text, sizeof text, HEAD "      links: [{provider: %s}]\n",
                 bad[i]);
        snprintf(want, sizeof want,
                 "app.yaml:9:26: spec.actors[0].links[0].provider: expected a "
                 "provider name such as http-server or kv, got %s",
                 got);
        fails(text, want);
    }
    fails(HEAD "    - module: b\n",
          "app.yaml:9:7: spec.actors[1].name: missing required field");
    fails(HEAD "    - name: b\n",
          "app.yaml:9:7: spec.actors[1].module: missing required field");
    fails(HEAD "    - name: b\n      module: {path: b.wasm}\n",
          "app.yaml:10:15: spec.actors[1].module: expected a path to a .wasm "
          "file, got a map");
    fails(HEAD "    - name: b\n      module: \"\"\n",
          "app.yaml:10:15: spec.actors[1].module: expected a path to a .wasm "
          "file, got \"\"");
    fails(HEAD "    - name: b\n      module: !\n",
          "app.yaml:10:15: spec.actors[1].module: expected a path to a .wasm "
          "file, got \"\"");
    fails(HEAD "      name: ~\n",
          "app.yaml:9:7: spec.actors[0].name: duplicate field (first at line "
          "7, column 7)");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: }\n",
          "app.yaml:3:18: metadata.name: expected a name, got null");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: "
          "\"a\\0b\"}\n",
          "app.yaml:3:18: metadata.name: a NUL character is not allowed");
    fails("apiVersion: shoal/v1\nkind: Application\nmetadata: {name: !x a}\n",
          "app.yaml:3:18: metadata.name: expected a name, got a value tagged "
          "!x");
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *field; /* the line after HEAD */
        const char *want;
    } cases[] = {
        {"replicas: three",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got \"three\""},
        {"replicas: \"3\"",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got the string \"3\" (a quoted scalar is a string)"},
        {"replicas: -1",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got \"-1\""},
        {"replicas: 10001",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got \"10001\""},
        {"replicas: 1.0",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got \"1.0\""},
        {"replicas: [1]",
         "9:17: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got a list"},
        {"replicas:",
         "9:16: spec.actors[0].replicas: expected an integer from 0 to 10000, "
         "got null"},
        {"limits: [1]",
         "9:15: spec.actors[0].limits: expected a map, got a list"},
        {"limits: {memory: lots}",
         "9:24: spec.actors[0].limits.memory: expected a size like 1MiB, got "
         "\"lots\""},
        {"limits: {memory: 1.5MiB}",
         "9:24: spec.actors[0].limits.memory: expected a size like 1MiB, got "
         "\"1.5MiB\""},
        {"limits: {memory: 0}",
         "9:24: spec.actors[0].limits.memory: expected a size above 0 (leave "
         "it out for the node's default), got \"0\""},
        {"limits: {memory: 5GiB}",
         "9:24: spec.actors[0].limits.memory: at most 4GiB, got \"5GiB\""},
        {"limits: {memory: 4294967297}",
         "9:24: spec.actors[0].limits.memory: at most 4GiB, got "
         "\"4294967297\""},
        {"limits: {memory: 99999999999999999999}",
         "9:24: spec.actors[0].limits.memory: at most 4GiB, got "
         "\"99999999999999999999\""},
        {"limits: {memory: {a: 1}}",
         "9:24: spec.actors[0].limits.memory: expected a size like 1MiB, got "
         "a map"},
        {"limits: {memory: }",
         "9:24: spec.actors[0].limits.memory: expected a size like 1MiB, got "
         "null"},
        {"limits: {fuel-per-message: 0}",
         "9:34: spec.actors[0].limits.fuel-per-message: expected a count from "
         "1 to 2^64-1, got \"0\""},
        {"limits: {fuel-per-message: 10X}",
         "9:34: spec.actors[0].limits.fuel-per-message: expected a count like "
         "10000000 or 10M, got \"10X\""},
        {"limits: {fuel-per-message: 18446744073709551616}",
         "9:34: spec.actors[0].limits.fuel-per-message: expected a count from "
         "1 to 2^64-1, got \"18446744073709551616\""},
        {"limits: {mailbox: 0}",
         "9:25: spec.actors[0].limits.mailbox: expected a count from 1 to "
         "1000000, got \"0\""},
        {"limits: {mailbox: 1000001}",
         "9:25: spec.actors[0].limits.mailbox: expected a count from 1 to "
         "1000000, got \"1000001\""},
        {"limits: {mailbox: 2M}",
         "9:25: spec.actors[0].limits.mailbox: expected a count from 1 to "
         "1000000, got \"2M\""},
        {"limits: {mailbox: many}",
         "9:25: spec.actors[0].limits.mailbox: expected a count like 1024 or "
         "1k, got \"many\""},
        {"restart: sometimes",
         "9:16: spec.actors[0].restart: expected always, on-failure or never, "
         "got \"sometimes\""},
        {"restart: [always]",
         "9:16: spec.actors[0].restart: expected always, on-failure or never, "
         "got a list"},
        {"placement: true",
         "9:18: spec.actors[0].placement: expected a map, got \"true\""},
        {"placement: {spread: yes}",
         "9:27: spec.actors[0].placement.spread: expected true or false, got "
         "\"yes\""},
        {"placement: {spread: \"true\"}",
         "9:27: spec.actors[0].placement.spread: expected true or false, got "
         "the string \"true\" (a quoted scalar is a string)"},
        {"placement: {labels: [zone]}",
         "9:27: spec.actors[0].placement.labels: expected a map, got a list"},
        {"placement: {labels: {zone: {a: 1}}}",
         "9:34: spec.actors[0].placement.labels.zone: expected a string, got "
         "a map"},
        {"placement: {labels: {zone: }}",
         "9:34: spec.actors[0].placement.labels.zone: expected a string, got "
         "null"},
        {"placement: {labels: {-zone: a}}",
         "9:28: spec.actors[0].placement.labels.-zone: expected a label "
         "key (letters, digits, '-', '_', '.', '/', at most 63), got "
         "\"-zone\""},
        {"placement: {labels: {zone: a/b}}",
         "9:34: spec.actors[0].placement.labels.zone: expected a label value "
         "(letters, digits, '-', '_', '.', at most 63), got \"a/b\""},
        {"links: {provider: kv}",
         "9:14: spec.actors[0].links: expected a list, got a map"},
        {"links: [kv]",
         "9:15: spec.actors[0].links[0]: expected a map, got \"kv\""},
        {"links: [{provider: kv, config: [a]}]",
         "9:38: spec.actors[0].links[0].config: expected a map, got a list"},
        {"links: [{provider: kv, config: }]",
         "9:38: spec.actors[0].links[0].config: expected a map, got null"},
        {"links: [{provider: kv}, {config: {}}]",
         "9:31: spec.actors[0].links[1].provider: missing required field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], want[512];
        snprintf(text, sizeof text, HEAD "      %s\n", cases[i].field);
        snprintf(want, sizeof want, "app.yaml:%s", cases[i].want);
        fails(text, want);
    }
}

static void test_value_errors(void **state)
{
    (void)state;
    fails(HEAD "      init: &x [1, *x]\n",
          "app.yaml:9:20: spec.actors[0].init[1]: YAML aliases (*x) are not "
          "supported");
    fails(HEAD "      init: {a: &v 1, b: *v}\n",
          "app.yaml:9:26: spec.actors[0].init.b: YAML aliases (*v) are not "
          "supported");
    fails("&r apiVersion: *r\n",
          "app.yaml:1:16: apiVersion: YAML aliases (*r) are not supported");
    fails(HEAD "      init: 99999999999999999999\n",
          "app.yaml:9:13: spec.actors[0].init: integer out of range (-2^63 to "
          "2^64-1; quote it to make it a string), got "
          "\"99999999999999999999\"");
    fails(HEAD "      init: [-9223372036854775809]\n",
          "app.yaml:9:14: spec.actors[0].init[0]: integer out of range (-2^63 "
          "to 2^64-1; quote it to make it a string), got "
          "\"-9223372036854775809\"");
    fails(HEAD "      init: {x: 1e999}\n",
          "app.yaml:9:17: spec.actors[0].init.x: number out of range, got "
          "\"1e999\"");
    fails(HEAD "      init: !!binary aGVsbG8=\n",
          "app.yaml:9:13: spec.actors[0].init: unsupported tag !!binary (only "
          "!!str, !!int, !!float, !!bool and !!null)");
    fails(HEAD "      init: !local x\n",
          "app.yaml:9:13: spec.actors[0].init: unsupported tag !local (only "
          "!!str, !!int, !!float, !!bool and !!null)");
    fails(HEAD "      init: !!int 1.5\n",
          "app.yaml:9:13: spec.actors[0].init: !!int needs an integer, got "
          "\"1.5\"");
    fails(HEAD "      init: !!float x\n",
          "app.yaml:9:13: spec.actors[0].init: !!float needs a number, got "
          "\"x\"");
    fails(HEAD "      init: !!bool yes\n",
          "app.yaml:9:13: spec.actors[0].init: !!bool needs true or false, "
          "got \"yes\"");
    fails(HEAD "      init: !!null 0\n",
          "app.yaml:9:13: spec.actors[0].init: !!null needs ~, null or "
          "nothing, got \"0\"");
    fails(HEAD "      init: !!omap [a]\n",
          "app.yaml:9:13: spec.actors[0].init: unsupported tag !!omap on a "
          "list");
    fails(HEAD "      init: !!seq {a: 1}\n",
          "app.yaml:9:13: spec.actors[0].init: unsupported tag !!seq on a "
          "map");
    fails(HEAD "      init: {[a]: 1}\n",
          "app.yaml:9:14: spec.actors[0].init[?]: a key must be a scalar, got "
          "a list");
    fails(HEAD "      links: [{provider: kv, config: {{a: 1}: 1}}]\n",
          "app.yaml:9:39: spec.actors[0].links[0].config[?]: a key must be a "
          "scalar, got a map");

    /* MANIFEST_MAX_DEPTH levels are fine, one more is not. */
    char text[2048];
    int n = snprintf(text, sizeof text, HEAD "      init: ");
    for (int i = 0; i < MANIFEST_MAX_DEPTH; i++)
        text[n++] = '[';
    for (int i = 0; i < MANIFEST_MAX_DEPTH; i++)
        text[n++] = ']';
    text[n++] = '\n';
    text[n] = '\0';
    manifest_app *app = parse_ok(text);
    assert_int_equal(app->actors[0].init_len, MANIFEST_MAX_DEPTH);
    manifest_free(app);
    n = snprintf(text, sizeof text, HEAD "      init: ");
    for (int i = 0; i <= MANIFEST_MAX_DEPTH; i++)
        text[n++] = '[';
    for (int i = 0; i <= MANIFEST_MAX_DEPTH; i++)
        text[n++] = ']';
    text[n] = '\0';
    /* A long path loses whole segments from its middle. */
    fails(text, "app.yaml:9:77: spec.actors[0].init[0][0][0][0][0][0][0]..."
                "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                "[0][0][0][0][0]: nested deeper than 64 levels");
    /* Deeper than any manifest needs: refused while the tree is built. */
    n = snprintf(text, sizeof text, "a: ");
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    text[n] = '\0';
    fails(text, "app.yaml:1:83: a[0][0][0][0][0][0][0][0][0][0][0][0][0]..."
                "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                "[0][0][0][0][0]: nested deeper than 80 levels");
}

/* A long value and a long path are cut in messages. */
static void test_long_messages(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, HEAD "      restart: %s\n",
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    fails(text, "app.yaml:9:16: spec.actors[0].restart: expected always, "
                "on-failure or never, got \"abcdefghijklmnopqrstuvwxyzabcdefg"
                "hijklmnopqrstuvw...\"");
    snprintf(
        text, sizeof text, HEAD "      restart: \"%s\"\n",
        "\\t\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
        "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
        "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9");
    fails(text, "app.yaml:9:16: spec.actors[0].restart: expected always, "
                "on-failure or never, got \"\\t\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\"");
}

/* ---- typing of init and config ---- */

static void test_init_typing(void **state)
{
    (void)state;
    manifest_app *app = with_init(
        "[~, null, Null, NULL, !!null , true, True, FALSE, 0, -1, +2, 0x1f, "
        "0o17, "
        "007, 18446744073709551615, -9223372036854775808, 1.5, -0.5e1, .5, "
        "1., .inf, -.Inf, +.INF, 1e3, \"1\", '2', yes, No, on, off, y, "
        "hello world, 0x, 1_000, !!str 5, !!int \"7\", !!float 1, ! 3, "
        "!!null ~, !!bool TRUE, \"\", '']");
    packed want;
    packed_init(&want);
    msgpack_packer *pk = &want.pk;
    msgpack_pack_array(pk, 42);
    for (int i = 0; i < 5; i++)
        msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_int64(pk, -1);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_uint64(pk, 31);
    msgpack_pack_uint64(pk, 15);
    msgpack_pack_uint64(pk, 7); /* YAML 1.2: decimal, not octal */
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_double(pk, 1.5);
    msgpack_pack_double(pk, -5.0);
    msgpack_pack_double(pk, 0.5);
    msgpack_pack_double(pk, 1.0);
    msgpack_pack_double(pk, INFINITY);
    msgpack_pack_double(pk, -INFINITY);
    msgpack_pack_double(pk, INFINITY);
    msgpack_pack_double(pk, 1000.0);
    pack_s(&want, "1");
    pack_s(&want, "2");
    pack_s(&want, "yes"); /* YAML 1.2: not booleans */
    pack_s(&want, "No");
    pack_s(&want, "on");
    pack_s(&want, "off");
    pack_s(&want, "y");
    pack_s(&want, "hello world");
    pack_s(&want, "0x");
    pack_s(&want, "1_000");
    pack_s(&want, "5");
    msgpack_pack_uint64(pk, 7);
    msgpack_pack_double(pk, 1.0);
    pack_s(&want, "3");
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    pack_s(&want, "");
    pack_s(&want, "");
    assert_bytes(app->actors[0].init, app->actors[0].init_len, &want);
    msgpack_sbuffer_destroy(&want.sb);
    manifest_free(app);

    /* NaN has one encoding. */
    app = with_init(".NaN");
    packed_init(&want);
    msgpack_pack_double(&want.pk, NAN);
    assert_bytes(app->actors[0].init, app->actors[0].init_len, &want);
    msgpack_sbuffer_destroy(&want.sb);
    manifest_free(app);

    /* An explicit null is an init message of nil, unlike no init. */
    app = with_init("~");
    assert_int_equal(app->actors[0].init_len, 1);
    assert_int_equal(app->actors[0].init[0], 0xc0);
    manifest_free(app);

    /* Block scalars are strings; map keys are typed and sorted by their
     * encoding (here: 1, "a", "b", nil, true, -1). */
    app = with_init("\n"
                    "        b: |\n"
                    "          two\n"
                    "          lines\n"
                    "        a: >-\n"
                    "          folded\n"
                    "          text\n"
                    "        1: one\n"
                    "        -1: minus one\n"
                    "        true: yes\n"
                    "        ~: nothing\n");
    packed_init(&want);
    msgpack_pack_map(&want.pk, 6);
    msgpack_pack_uint64(&want.pk, 1);
    pack_s(&want, "one");
    pack_s(&want, "a");
    pack_s(&want, "folded text");
    pack_s(&want, "b");
    pack_s(&want, "two\nlines\n");
    msgpack_pack_nil(&want.pk);
    pack_s(&want, "nothing");
    msgpack_pack_true(&want.pk);
    pack_s(&want, "yes");
    msgpack_pack_int64(&want.pk, -1);
    pack_s(&want, "minus one");
    assert_bytes(app->actors[0].init, app->actors[0].init_len, &want);
    msgpack_sbuffer_destroy(&want.sb);
    manifest_free(app);

    /* Nested maps are sorted at every level; escapes are read. */
    app = with_init("{z: {y: [1, {b: 2, a: \"\\u00e9\\0\"}]}, a: {}}");
    packed_init(&want);
    msgpack_pack_map(&want.pk, 2);
    pack_s(&want, "a");
    msgpack_pack_map(&want.pk, 0);
    pack_s(&want, "z");
    msgpack_pack_map(&want.pk, 1);
    pack_s(&want, "y");
    msgpack_pack_array(&want.pk, 2);
    msgpack_pack_uint64(&want.pk, 1);
    msgpack_pack_map(&want.pk, 2);
    pack_s(&want, "a");
    msgpack_pack_str_with_body(&want.pk, "\xc3\xa9\0", 3);
    pack_s(&want, "b");
    msgpack_pack_uint64(&want.pk, 2);
    assert_bytes(app->actors[0].init, app->actors[0].init_len, &want);
    msgpack_sbuffer_destroy(&want.sb);
    manifest_free(app);
}

static void test_config_typing(void **state)
{
    (void)state;
    manifest_app *app =
        parse_ok(HEAD "      links:\n"
                      "        - provider: http-server\n"
                      "          config:\n"
                      "            port: 8080\n"
                      "            tls: false\n"
                      "            ratio: 0.25\n"
                      "            path: /api\n"
                      "            quoted: \"8080\"\n"
                      "            none: ~\n"
                      "            1: key as written\n"
                      "            true: also\n"
                      "            nested: {0x10: [a, 2], z: {~: 1}}\n");
    packed want;
    packed_init(&want);
    msgpack_packer *pk = &want.pk;
    /* String keys, sorted by their encoding: by length, then bytes. */
    msgpack_pack_map(pk, 9);
    pack_s(&want, "1");
    pack_s(&want, "key as written");
    pack_s(&want, "tls");
    msgpack_pack_false(pk);
    pack_s(&want, "none");
    msgpack_pack_nil(pk);
    pack_s(&want, "path");
    pack_s(&want, "/api");
    pack_s(&want, "port");
    msgpack_pack_uint64(pk, 8080);
    pack_s(&want, "true");
    pack_s(&want, "also");
    pack_s(&want, "ratio");
    msgpack_pack_double(pk, 0.25);
    pack_s(&want, "nested");
    msgpack_pack_map(pk, 2);
    pack_s(&want, "z");
    msgpack_pack_map(pk, 1);
    pack_s(&want, "~");
    msgpack_pack_uint64(pk, 1);
    pack_s(&want, "0x10");
    msgpack_pack_array(pk, 2);
    pack_s(&want, "a");
    msgpack_pack_uint64(pk, 2);
    pack_s(&want, "quoted");
    pack_s(&want, "8080");
    assert_bytes(app->actors[0].links[0].config,
                 app->actors[0].links[0].config_len, &want);
    msgpack_sbuffer_destroy(&want.sb);
    manifest_free(app);
}

/* ---- the canonical form ---- */

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(example_path("counter.yaml"), &len);
    manifest_app *app = parse_ok(text);
    free(text);

    for (int hashed = 0; hashed < 2; hashed++) {
        if (hashed)
            memset(app->actors[0].module_hash, 'a', 64);
        size_t n;
        uint8_t *bytes = encode(app, &n);
        manifest_app *back = NULL;
        shoal_errinfo ei;
        assert_int_equal(manifest_decode(bytes, n, &back, &ei), SHOAL_OK);
        assert_string_equal(back->name, app->name);
        assert_int_equal(back->nactors, 1);
        const manifest_actor *a = &app->actors[0], *b = &back->actors[0];
        assert_string_equal(b->name, a->name);
        assert_string_equal(b->module, hashed ? "" : a->module);
        assert_string_equal(b->module_hash, a->module_hash);
        assert_int_equal(b->replicas, a->replicas);
        assert_int_equal(b->memory, a->memory);
        assert_int_equal(b->fuel_per_message, a->fuel_per_message);
        assert_int_equal(b->mailbox, a->mailbox);
        assert_int_equal(b->restart, a->restart);
        assert_int_equal(b->init_len, a->init_len);
        assert_memory_equal(b->init, a->init, a->init_len);
        assert_int_equal(b->spread, a->spread);
        assert_int_equal(b->nlabels, 1);
        assert_string_equal(b->labels[0].key, "zone");
        assert_string_equal(b->labels[0].value, "a");
        assert_int_equal(b->nlinks, 2);
        for (size_t i = 0; i < 2; i++) {
            assert_string_equal(b->links[i].provider, a->links[i].provider);
            assert_int_equal(b->links[i].config_len, a->links[i].config_len);
            assert_memory_equal(b->links[i].config, a->links[i].config,
                                a->links[i].config_len);
            assert_int_equal(b->links[i].line, 0);
        }
        assert_int_equal(b->line, 0);
        assert_true(manifest_actor_same_template(a, b));

        size_t n2;
        uint8_t *again = encode(back, &n2);
        assert_int_equal(n2, n);
        assert_memory_equal(again, bytes, n);
        free(again);
        free(bytes);
        manifest_free(back);
    }
    manifest_free(app);

    /* Every other restart policy, no init, no labels or links, memory and
     * counts in all widths. */
    app = parse_ok(HEAD "      replicas: 10000\n"
                        "      restart: never\n"
                        "      limits: {memory: 4GiB, mailbox: 1M, "
                        "fuel-per-message: 18446744073709551615}\n"
                        "      placement: {spread: false}\n"
                        "    - name: b\n"
                        "      module: b.wasm\n"
                        "      replicas: 0\n"
                        "      restart: on-failure\n"
                        "      init: 300\n");
    size_t n;
    uint8_t *bytes = encode(app, &n);
    manifest_app *back = NULL;
    assert_int_equal(manifest_decode(bytes, n, &back, NULL), SHOAL_OK);
    for (size_t i = 0; i < 2; i++) {
        assert_true(
            manifest_actor_same_template(&app->actors[i], &back->actors[i]));
        assert_int_equal(app->actors[i].replicas, back->actors[i].replicas);
    }
    manifest_free(back);
    free(bytes);
    manifest_free(app);
}

/* The stored encoding of the example: the canonical form is what shoald
 * keeps, so a change to it shows here. After a deliberate change, run the
 * test once with SHOAL_MANIFEST_WRITE_ENCODING=1 to rewrite counter.bin. */
static void test_stored_encoding(void **state)
{
    (void)state;
    size_t len, stored_len;
    char *text = read_file(example_path("counter.yaml"), &len);
    char *stored = read_file(example_path("counter.bin"), &stored_len);
    manifest_app *app = parse_ok(text);
    size_t n;
    uint8_t *bytes = encode(app, &n);
    if (getenv("SHOAL_MANIFEST_WRITE_ENCODING") != NULL) {
        FILE *f = fopen(example_path("counter.bin"), "wb");
        assert_non_null(f);
        fwrite(bytes, 1, n, f);
        fclose(f);
    }
    assert_int_equal(n, stored_len);
    assert_memory_equal(bytes, stored, n);
    free(bytes);
    manifest_free(app);
    free(stored);
    free(text);
}

/* Two manifests that mean the same encode the same. */
static void test_canonical(void **state)
{
    (void)state;
    static const char *const one =
        "apiVersion: shoal/v1\n"
        "kind: Application\n"
        "metadata:\n"
        "  name: shop\n"
        "spec:\n"
        "  actors:\n"
        "    - name: web\n"
        "      module: ./web.wasm\n"
        "      limits: { memory: 1MiB, fuel-per-message: 10M, mailbox: 1k }\n"
        "      init: { greeting: hello, count: 3, ratio: 0.5, on: true }\n"
        "      placement: { labels: { zone: a } }\n"
        "      links:\n"
        "        - provider: kv\n"
        "          config: { bucket: b, ttl: 60 }\n"
        "    - name: worker\n"
        "      module: worker.wasm\n"
        "      replicas: 4\n";
    static const char *const two =
        "# the same application, written otherwise\n"
        "kind: \"Application\"\n"
        "apiVersion: 'shoal/v1'\n"
        "spec:\n"
        "  actors:\n"
        "  - module: \"./web.wasm\"\n"
        "    name: web\n"
        "    replicas: 1\n"
        "    restart: always\n"
        "    links: [{config: {ttl: 0x3c, bucket: \"b\"}, provider: kv}]\n"
        "    placement:\n"
        "      labels:\n"
        "        zone: \"a\"\n"
        "      spread: true\n"
        "    init:\n"
        "      \"on\": !!bool True\n"
        "      ratio: 5e-1\n"
        "      count: 0o3\n"
        "      greeting: >-\n"
        "        hello\n"
        "    limits:\n"
        "      mailbox: 1000\n"
        "      fuel-per-message: 10000000\n"
        "      memory: 1048576\n"
        "  - {name: worker, module: worker.wasm, replicas: !!int '4'}\n"
        "metadata: {name: shop, labels: {ignored: \"yes\"}}\n";
    manifest_app *a = parse_ok(one), *b = parse_ok(two);
    size_t na, nb;
    uint8_t *ea = encode(a, &na), *eb = encode(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ea, eb, na);
    free(ea);
    free(eb);

    /* Memory is rounded before it is compared. */
    manifest_app *c = parse_ok(HEAD "      limits: {memory: 1000000}\n");
    manifest_app *d = parse_ok(HEAD "      limits: {memory: 16 }\n"
                                    "      # 16 bytes round up to one page\n");
    manifest_app *e = parse_ok(HEAD "      limits: {memory: 64KiB}\n");
    assert_int_equal(c->actors[0].memory, 1048576);
    assert_int_equal(d->actors[0].memory, 65536);
    assert_true(manifest_actor_same_template(&d->actors[0], &e->actors[0]));
    manifest_free(c);
    manifest_free(d);
    manifest_free(e);

    /* Module paths count while there is no hash; once hashes are filled,
     * only they do. */
    manifest_app *moved = parse_ok(HEAD);
    manifest_app *orig = parse_ok(HEAD);
    free(moved->actors[0].module);
    moved->actors[0].module = strdup("../build/a.wasm");
    uint8_t *em = encode(moved, &na), *eo = encode(orig, &nb);
    assert_false(na == nb && memcmp(em, eo, na) == 0);
    assert_false(
        manifest_actor_same_template(&moved->actors[0], &orig->actors[0]));
    free(em);
    free(eo);
    memset(moved->actors[0].module_hash, 'f', 64);
    memset(orig->actors[0].module_hash, 'f', 64);
    em = encode(moved, &na);
    eo = encode(orig, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(em, eo, na);
    assert_true(
        manifest_actor_same_template(&moved->actors[0], &orig->actors[0]));
    free(em);
    free(eo);
    manifest_free(moved);
    manifest_free(orig);

    /* Order matters where it means something: actors, links and labels. */
    manifest_app *ab = parse_ok(
        HEAD "      placement: {labels: {x: a, y: b}}\n"
             "      links: [{provider: kv}, {provider: http-server}]\n");
    manifest_app *ba = parse_ok(
        HEAD "      placement: {labels: {y: b, x: a}}\n"
             "      links: [{provider: kv}, {provider: http-server}]\n");
    manifest_app *ab2 = parse_ok(
        HEAD "      placement: {labels: {x: a, y: b}}\n"
             "      links: [{provider: http-server}, {provider: kv}]\n");
    assert_false(manifest_actor_same_template(&ab->actors[0], &ba->actors[0]));
    assert_false(manifest_actor_same_template(&ab->actors[0], &ab2->actors[0]));
    manifest_free(ab);
    manifest_free(ba);
    manifest_free(ab2);
    manifest_free(a);
    manifest_free(b);
}

/* ---- templates ---- */

static void test_same_template(void **state)
{
    (void)state;
    static const char *const base =
        HEAD "      replicas: 2\n"
             "      limits: {memory: 1MiB, fuel-per-message: 5M, mailbox: 64}\n"
             "      restart: on-failure\n"
             "      init: {a: 1}\n"
             "      placement: {spread: true, labels: {zone: a}}\n"
             "      links: [{provider: kv, config: {bucket: b}}]\n";
    manifest_app *app = parse_ok(base);
    const manifest_actor *a = &app->actors[0];

    /* Only replicas and where it was written differ. */
    manifest_app *same =
        parse_ok("\n\n" HEAD "      replicas: 7\n"
                 "      limits: {mailbox: 64, memory: 1024KiB, "
                 "fuel-per-message: 5000k}\n"
                 "      restart: on-failure\n"
                 "      init: {a: 1}\n"
                 "      placement: {labels: {zone: a}}\n"
                 "      links: [{provider: kv, config: {bucket: b}}]\n");
    assert_true(manifest_actor_same_template(a, &same->actors[0]));
    assert_true(manifest_actor_same_template(a, a));
    assert_false(manifest_actor_same_template(a, NULL));
    assert_true(manifest_actor_same_template(NULL, NULL));
    manifest_free(same);

    static const struct {
        const char *from, *to;
    } changes[] = {
        {"- name: a", "- name: b"},
        {"module: a.wasm", "module: b.wasm"},
        {"memory: 1MiB", "memory: 2MiB"},
        {"fuel-per-message: 5M", "fuel-per-message: 6M"},
        {"mailbox: 64", "mailbox: 65"},
        {"restart: on-failure", "restart: never"},
        {"init: {a: 1}", "init: {a: 2}"},
        {"init: {a: 1}", "init: {a: \"1\"}"},
        {"init: {a: 1}", "init: ~"},
        {"init: {a: 1}", ""}, /* no init at all */
        {"spread: true", "spread: false"},
        {"zone: a}", "zone: b}"},
        {"zone: a}", "zone: a, disk: ssd}"},
        {"provider: kv", "provider: kv2"},
        {"config: {bucket: b}", "config: {bucket: c}"},
        {"config: {bucket: b}", "config: {}"},
        {"}]\n", "}, {provider: kv}]\n"},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        char text[1024];
        const char *at = strstr(base, changes[i].from);
        assert_non_null(at);
        const char *after = at + strlen(changes[i].from);
        if (changes[i].to[0] == '\0') { /* drop the whole line */
            while (at > base && at[-1] != '\n')
                at--;
            after = strchr(after, '\n') + 1;
        }
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base), base,
                 changes[i].to, after);
        manifest_app *other = parse_ok(text);
        if (manifest_actor_same_template(a, &other->actors[0]))
            fail_msg("the same template after %s -> %s", changes[i].from,
                     changes[i].to);
        manifest_free(other);
    }

    /* A hash on one side only: different. */
    manifest_app *hashed = parse_ok(base);
    memset(hashed->actors[0].module_hash, '0', 64);
    assert_false(manifest_actor_same_template(a, &hashed->actors[0]));
    manifest_free(hashed);
    manifest_free(app);
}

/* ---- decoding ---- */

static void test_decode_errors(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(example_path("counter.yaml"), &len);
    manifest_app *app = parse_ok(text);
    free(text);
    size_t n;
    uint8_t *bytes = encode(app, &n);

    /* Every truncation, and a byte more. */
    for (size_t cut = 0; cut < n; cut++) {
        manifest_app *out = (manifest_app *)1;
        shoal_errinfo ei = {0};
        assert_int_equal(manifest_decode(bytes, cut, &out, &ei),
                         SHOAL_EMALFORMED);
        assert_ptr_equal(out, (manifest_app *)1);
        assert_true(ei.offset <= cut);
        assert_int_equal(strncmp(ei.msg, "encoded manifest: byte ", 23), 0);
    }
    uint8_t *more = malloc(n + 1);
    assert_non_null(more);
    memcpy(more, bytes, n);
    more[n] = 0xc0;
    manifest_app *out;
    shoal_errinfo ei;
    assert_int_equal(manifest_decode(more, n + 1, &out, &ei), SHOAL_EMALFORMED);
    char want[128];
    snprintf(want, sizeof want,
             "encoded manifest: byte %zu: bytes after the app", n);
    assert_string_equal(ei.msg, want);
    free(more);

    /* A change in one byte where the value is checked. */
    static const struct {
        const char *find; /* bytes of the encoding to change */
        size_t find_len;
        const char *with;
        const char *why;
    } edits[] = {
        {"\xa1v\x01", 3, "\xa1v\x02", "version 2, not 1"},
        {"\xa7"
         "counter\xa6"
         "actors",
         15,
         "\xa7"
         "Counter\xa6"
         "actors",
         "not a name"},
        {"\xa6memory\xce\x00\x10\x00\x00", 12, "\xa6memory\xce\x00\x10\x00\x01",
         "memory is not a multiple of 64 KiB"},
        {"\xa6memory\xce\x00\x10\x00\x00", 12, "\xa6memory\xcb\x00\x10\x00\x00",
         "expected an unsigned integer"},
        {"\xa8replicas\x03", 10, "\xa8replicas\xd0",
         "expected an unsigned integer"},
        {"\xa7restart\xa6"
         "always",
         15,
         "\xa7restart\xa6"
         "alwayz",
         "an unknown restart policy"},
        {"\xa6spread\xc3", 8, "\xa6spread\xc0", "expected true or false"},
        {"\xa4zone\xa1"
         "a",
         7,
         "\xa4zone\xa1"
         "/",
         "not a label value"},
        {"\xa4zone\xa1"
         "a",
         7,
         "\xa4zo e\xa1"
         "a",
         "not a label key"},
        {"\xa2kv", 3, "\xa2k_", "not a name"},
        {"\xabmodule_hash\xa0", 13, "\xabmodule_hash\xc0", "expected a string"},
        {"\xa8replicas\x03", 10, "\xa8replicas\x04", NULL}, /* fine */
        {"\xa8replicas\x03", 10, "\xa8replicaz\x03",
         "expected the key \"replicas\""},
        {"\xc4\x10\x81\xa8greeting", 12, "\xc4\x10\x91\xa8greeting",
         "bytes after the msgpack value"},
        {"\xc4\x10\x81\xa8greeting", 12, "\xc4\x10\x82\xa8greeting",
         "truncated"},
        {"\xc4\x11\x81\xa6"
         "bucket",
         10,
         "\xc4\x11\x91\xa6"
         "bucket",
         "expected a msgpack map"},
        {"\xa6"
         "bucket\xa8",
         8,
         "\xa6"
         "bucket\xc1",
         "the byte 0xc1 is not msgpack"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, bytes, n);
        uint8_t *at = memmem(copy, n, edits[i].find, edits[i].find_len);
        if (at == NULL)
            fail_msg("edit %zu: not found", i);
        memcpy(at, edits[i].with, edits[i].find_len);
        out = NULL;
        shoal_err err = manifest_decode(copy, n, &out, &ei);
        if (edits[i].why == NULL) {
            assert_int_equal(err, SHOAL_OK);
            manifest_free(out);
        } else {
            if (err != SHOAL_EMALFORMED)
                fail_msg("edit %zu: %s", i, shoal_err_name(err));
            if (strstr(ei.msg, edits[i].why) == NULL)
                fail_msg("edit %zu: %s, not %s", i, ei.msg, edits[i].why);
            assert_true(ei.offset >= (size_t)(at - copy) && ei.offset <= n);
        }
        free(copy);
    }
    free(bytes);

    /* Numbers out of range. */
    app->actors[0].mailbox = MANIFEST_MAX_MAILBOX + 1;
    assert_int_equal(manifest_encode(app, &bytes, &n), SHOAL_OK);
    assert_int_equal(manifest_decode(bytes, n, &out, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "1000001 is over 1000000"));
    free(bytes);
    app->actors[0].mailbox = 1024;
    app->actors[0].replicas = MANIFEST_MAX_REPLICAS + 1;
    assert_int_equal(manifest_encode(app, &bytes, &n), SHOAL_OK);
    assert_int_equal(manifest_decode(bytes, n, &out, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "10001 is over 10000"));
    free(bytes);
    app->actors[0].replicas = 3;

    /* Two actors of one name; a module path with a hash. */
    memcpy(app->actors[0].module_hash, "x", 2);
    assert_int_equal(manifest_encode(app, &bytes, &n), SHOAL_OK);
    assert_int_equal(manifest_decode(bytes, n, &out, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "module_hash is not 64 hex digits"));
    free(bytes);
    memset(app->actors[0].module_hash, 0, sizeof app->actors[0].module_hash);

    manifest_app twice = *app;
    manifest_actor actors[2] = {app->actors[0], app->actors[0]};
    twice.actors = actors;
    twice.nactors = 2;
    assert_int_equal(manifest_encode(&twice, &bytes, &n), SHOAL_OK);
    assert_int_equal(manifest_decode(bytes, n, &out, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "two actors of the same name"));
    free(bytes);
    twice.nactors = 0;
    assert_int_equal(manifest_encode(&twice, &bytes, &n), SHOAL_OK);
    assert_int_equal(manifest_decode(bytes, n, &out, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "no actors"));
    free(bytes);

    /* Arguments. */
    assert_int_equal(manifest_decode(NULL, 1, &out, &ei), SHOAL_EINVAL);
    assert_int_equal(manifest_decode(NULL, 0, NULL, &ei), SHOAL_EINVAL);
    assert_int_equal(manifest_decode(NULL, 0, &out, &ei), SHOAL_EMALFORMED);
    assert_int_equal(manifest_encode(NULL, &bytes, &n), SHOAL_EINVAL);
    assert_int_equal(manifest_encode(app, NULL, &n), SHOAL_EINVAL);
    manifest_app broken = *app;
    broken.name = NULL;
    assert_int_equal(manifest_encode(&broken, &bytes, &n), SHOAL_EINVAL);
    manifest_free(app);
}

/* ---- allocation failures ---- */

typedef shoal_err (*alloc_op)(shoal_errinfo *ei);

static const char *op_text;
static const uint8_t *op_bytes;
static size_t op_len;
static const manifest_app *op_app;

static shoal_err op_parse(shoal_errinfo *ei)
{
    manifest_app *app = NULL;
    shoal_err err =
        manifest_parse(op_text, strlen(op_text), "app.yaml", &app, ei);
    manifest_free(app);
    return err;
}

static shoal_err op_encode(shoal_errinfo *ei)
{
    (void)ei;
    uint8_t *bytes = NULL;
    size_t len;
    shoal_err err = manifest_encode(op_app, &bytes, &len);
    free(bytes);
    return err;
}

static shoal_err op_decode(shoal_errinfo *ei)
{
    manifest_app *app = NULL;
    shoal_err err = manifest_decode(op_bytes, op_len, &app, ei);
    manifest_free(app);
    return err;
}

/* Fails each allocation of op in turn: every failure must be ENOMEM (with
 * a message when with_message), leak nothing, and leave the next call
 * working. Returns how many allocations the operation makes. */
static unsigned sweep(const char *name, alloc_op op, bool with_message,
                      shoal_err expect)
{
    for (unsigned n = 1;; n++) {
        shoal_errinfo ei = {0};
        alloc_watch(n);
        shoal_err err = op(&ei);
        alloc_unwatch();
        if (alloc.live != 0)
            fail_msg("%s, allocation %u failing: %ld blocks leaked", name, n,
                     alloc.live);
        if (alloc.count < n) { /* nothing failed: the sweep is over */
            assert_int_equal(err, expect);
            return n - 1;
        }
        if (err != SHOAL_ENOMEM)
            fail_msg("%s, allocation %u failing: %s %s", name, n,
                     shoal_err_name(err), ei.msg);
        if (with_message && strstr(ei.msg, "out of memory") == NULL)
            fail_msg("%s, allocation %u failing: no reason", name, n);
    }
}

static void test_allocation_failures(void **state)
{
    (void)state;
    size_t len;
    char *example = read_file(example_path("counter.yaml"), &len);
    static const char *const extra =
        HEAD "      init: {b: [1, {x: y}], a: {}, c: \"s\"}\n"
             "      placement: {labels: {x: a, y: b}}\n"
             "      links: [{provider: kv}, {provider: p, config: {a: [1]}}]\n"
             "    - name: b\n"
             "      module: b.wasm\n";
    const char *texts[] = {example, extra};
    for (size_t i = 0; i < 2; i++) {
        op_text = texts[i];
        unsigned parse_allocs =
            sweep("manifest_parse", op_parse, true, SHOAL_OK);
        /* libyaml's allocations are among them. */
        assert_true(parse_allocs > 10);

        manifest_app *app = parse_ok(texts[i]);
        op_app = app;
        sweep("manifest_encode", op_encode, false, SHOAL_OK);
        uint8_t *bytes = encode(app, &op_len);
        op_bytes = bytes;
        sweep("manifest_decode", op_decode, true, SHOAL_OK);
        free(bytes);
        manifest_free(app);
    }
    /* Failures on the way to an error: the error or ENOMEM. */
    op_text = HEAD "      init: {b: [1, {x: y}], a: {}, b: 2}\n";
    for (unsigned n = 1;; n++) {
        shoal_errinfo ei = {0};
        alloc_watch(n);
        shoal_err err = op_parse(&ei);
        alloc_unwatch();
        assert_int_equal(alloc.live, 0);
        if (alloc.count < n) {
            assert_int_equal(err, SHOAL_EMANIFEST);
            break;
        }
        assert_true(err == SHOAL_ENOMEM || err == SHOAL_EMANIFEST);
    }
    free(example);
}

/* ---- inputs the fuzzer found ---- */

static void replay_file(const char *path)
{
    size_t len;
    char *buf = read_file(path, &len);
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
}

/* Runs every file of the regressions folder, and every example, through
 * the fuzz target, which aborts on anything it dislikes. */
static void test_fuzz_regressions(void **state)
{
    (void)state;
    const char *dirs[] = {MANIFEST_TEST_DIR "/regressions",
                          MANIFEST_TEST_DIR "/examples"};
    int files = 0;
    for (size_t i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        if (d == NULL)
            fail_msg("cannot open %s", dirs[i]);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dirs[i], de->d_name);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            replay_file(path);
            files++;
        }
        closedir(d);
    }
    assert_true(files > 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_several_actors),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_root_errors),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_long_messages),
        cmocka_unit_test(test_init_typing),
        cmocka_unit_test(test_config_typing),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_stored_encoding),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_same_template),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
