/* A fuzz target for application manifests (node/manifest): untrusted bytes
 * through manifest_parse (as YAML), manifest_decode (as an encoded app) and
 * manifest_parse_size and manifest_parse_count (as a string).
 *
 * Checks, besides the sanitizers':
 * - manifest_parse answers SHOAL_OK or SHOAL_EMANIFEST, the same without an
 *   errinfo; a refusal reads "fuzz.yaml:LINE:COL: ..." with LINE and COL
 *   from 1 and an offset inside the input, and for an input of ASCII
 *   without carriage returns the offset is at that line and column;
 * - an app it takes keeps the promises of manifest.h: names follow the
 *   rule and no two actors share one, the numbers are in range, memory is a
 *   multiple of 64 KiB, init is one msgpack object and every config one
 *   map, as msgpack-c reads them, and labels follow the label rules;
 * - the same input parses to the same encoding again; the app survives
 *   manifest_encode and manifest_decode (every actor the same template,
 *   the same replicas), and encoding what was decoded gives the same bytes;
 *   with module hashes filled in, the paths no longer count;
 * - manifest_decode answers SHOAL_OK or SHOAL_EMALFORMED with a reason and
 *   an offset inside the input; what it takes encodes to bytes that decode
 *   and encode to themselves;
 * - manifest_parse_size and manifest_parse_count agree with a reference
 *   written here with 128-bit arithmetic.
 *
 * Built with -fsanitize=fuzzer by run-manifest.sh; test_manifest replays the
 * saved inputs of tests/node/manifest/regressions through this same
 * function. Anything the checks dislike aborts, which the fuzzer reports as
 * a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_manifest: check failed: %s\n", what);
        abort();
    }
}

static bool name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

/* The bytes p[0..len) are one msgpack object (a map with want_map), as
 * msgpack-c reads them. Our own encodings only, whose counts are real. */
static void check_msgpack(const uint8_t *p, size_t len, bool want_map,
                          const char *what)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int ret = msgpack_unpack_next(&u, (const char *)p, len, &off);
    /* msgpack-c's own parser stops at 32 levels; ours allow 64. */
    fuzz_check(ret == MSGPACK_UNPACK_SUCCESS ||
                   ret == MSGPACK_UNPACK_NOMEM_ERROR,
               what);
    if (ret == MSGPACK_UNPACK_SUCCESS) {
        fuzz_check(off == len, what);
        fuzz_check(!want_map || u.data.type == MSGPACK_OBJECT_MAP, what);
    }
    msgpack_unpacked_destroy(&u);
}

static void check_app(const manifest_app *app)
{
    fuzz_check(name_ok(app->name), "the app's name");
    fuzz_check(app->nactors > 0, "an actor at least");
    for (size_t i = 0; i < app->nactors; i++) {
        const manifest_actor *a = &app->actors[i];
        fuzz_check(name_ok(a->name), "an actor's name");
        for (size_t j = 0; j < i; j++)
            fuzz_check(strcmp(app->actors[j].name, a->name) != 0,
                       "names differ");
        fuzz_check(manifest_find_actor(app, a->name) == a, "find_actor");
        fuzz_check(a->module != NULL && a->module[0] != '\0', "a module");
        fuzz_check(a->module_hash[0] == '\0', "no hash yet");
        fuzz_check(a->replicas <= MANIFEST_MAX_REPLICAS, "replicas");
        fuzz_check(a->memory % MANIFEST_MEMORY_UNIT == 0 &&
                       a->memory <= MANIFEST_MAX_MEMORY,
                   "memory");
        fuzz_check(a->mailbox <= MANIFEST_MAX_MAILBOX, "mailbox");
        fuzz_check((unsigned)a->restart <= MANIFEST_RESTART_NEVER, "restart");
        fuzz_check(a->line > 0, "a line");
        if (a->init != NULL)
            check_msgpack(a->init, a->init_len, false, "init");
        for (size_t j = 0; j < a->nlabels; j++) {
            const char *k = a->labels[j].key, *v = a->labels[j].value;
            fuzz_check(strlen(k) > 0 && strlen(k) <= 63 && strlen(v) <= 63,
                       "a label");
            for (size_t m = 0; m < j; m++)
                fuzz_check(strcmp(a->labels[m].key, k) != 0,
                           "label keys differ");
        }
        for (size_t j = 0; j < a->nlinks; j++) {
            fuzz_check(name_ok(a->links[j].provider), "a provider");
            fuzz_check(a->links[j].line >= a->line, "a link's line");
            check_msgpack(a->links[j].config, a->links[j].config_len, true,
                          "config");
        }
        fuzz_check(manifest_actor_same_template(a, a), "same as itself");
    }
}

/* Encodes app, decodes it, checks it is the same app and encodes to the
 * same bytes; returns them. */
static uint8_t *round_trip(const manifest_app *app, size_t *len)
{
    uint8_t *bytes;
    fuzz_check(manifest_encode(app, &bytes, len) == SHOAL_OK, "encode");
    manifest_app *back = NULL;
    shoal_errinfo ei;
    fuzz_check(manifest_decode(bytes, *len, &back, &ei) == SHOAL_OK,
               "decode what encode wrote");
    fuzz_check(strcmp(back->name, app->name) == 0 &&
                   back->nactors == app->nactors,
               "the same app");
    for (size_t i = 0; i < app->nactors; i++) {
        fuzz_check(
            manifest_actor_same_template(&app->actors[i], &back->actors[i]) &&
                app->actors[i].replicas == back->actors[i].replicas,
            "the same actor");
    }
    uint8_t *again;
    size_t again_len;
    fuzz_check(manifest_encode(back, &again, &again_len) == SHOAL_OK,
               "encode again");
    fuzz_check(again_len == *len && memcmp(again, bytes, *len) == 0,
               "the same bytes");
    free(again);
    manifest_free(back);
    return bytes;
}

/* Where offset off of an ASCII text without carriage returns is. */
static void line_column(const uint8_t *data, size_t off, size_t *line,
                        size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < off; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
    manifest_app *app = NULL;
    shoal_errinfo ei;
    shoal_err err =
        manifest_parse((const char *)data, size, "fuzz.yaml", &app, &ei);
    fuzz_check(err == SHOAL_OK || err == SHOAL_EMANIFEST, "a known answer");
    manifest_app *again = NULL;
    fuzz_check(manifest_parse((const char *)data, size, "fuzz.yaml", &again,
                              NULL) == err,
               "the same without ei");
    if (err != SHOAL_OK) {
        fuzz_check(app == NULL && again == NULL, "no app on failure");
        size_t line = 0, column = 0;
        int used = 0;
        fuzz_check(sscanf(ei.msg, "fuzz.yaml:%zu:%zu: %n", &line, &column,
                          &used) == 2 &&
                       used > 0 && line > 0 && column > 0 &&
                       ei.msg[used] != '\0',
                   "FILE:LINE:COL: what");
        fuzz_check(ei.offset <= size, "an offset inside the input");
        bool ascii = true;
        for (size_t i = 0; i < size && ascii; i++)
            ascii = data[i] < 0x80 && data[i] != '\r';
        if (ascii) {
            size_t l, c;
            line_column(data, ei.offset, &l, &c);
            fuzz_check(l == line && c == column, "the offset's line, column");
        }
        return;
    }
    check_app(app);

    size_t len, len2;
    uint8_t *bytes = round_trip(app, &len);
    uint8_t *bytes2 = round_trip(again, &len2);
    fuzz_check(len == len2 && memcmp(bytes, bytes2, len) == 0,
               "a parse is deterministic");
    free(bytes2);

    /* With hashes, a module's path no longer counts. */
    for (size_t i = 0; i < again->nactors; i++) {
        manifest_actor *a = &again->actors[i];
        snprintf(a->module_hash, sizeof a->module_hash, "%064zx", i);
        free(a->module);
        a->module = strdup("elsewhere.wasm");
        fuzz_check(a->module != NULL, "strdup");
        fuzz_check(!manifest_actor_same_template(a, &app->actors[i]),
                   "a hash against a path");
    }
    free(round_trip(again, &len2));
    for (size_t i = 0; i < app->nactors; i++) {
        manifest_actor *a = &app->actors[i];
        snprintf(a->module_hash, sizeof a->module_hash, "%064zx", i);
        fuzz_check(manifest_actor_same_template(a, &again->actors[i]),
                   "the same hash, another path");
    }
    uint8_t *hashed = round_trip(app, &len);
    uint8_t *hashed2 = round_trip(again, &len2);
    fuzz_check(len == len2 && memcmp(hashed, hashed2, len) == 0,
               "paths are not encoded once hashes are");
    free(hashed);
    free(hashed2);

    /* Replicas are not part of the template; memory is. */
    manifest_actor *a = &app->actors[0];
    manifest_actor b = *a;
    b.replicas = a->replicas + 1;
    b.line = a->line + 1;
    fuzz_check(manifest_actor_same_template(a, &b), "replicas do not count");
    b.memory = a->memory + MANIFEST_MEMORY_UNIT;
    fuzz_check(!manifest_actor_same_template(a, &b), "memory counts");

    free(bytes);
    manifest_free(again);
    manifest_free(app);
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
    manifest_app *app = NULL;
    shoal_errinfo ei;
    shoal_err err = manifest_decode(data, size, &app, &ei);
    fuzz_check(err == SHOAL_OK || err == SHOAL_EMALFORMED, "a known answer");
    manifest_app *again = NULL;
    fuzz_check(manifest_decode(data, size, &again, NULL) == err,
               "the same without ei");
    manifest_free(again);
    if (err != SHOAL_OK) {
        fuzz_check(app == NULL, "no app on failure");
        fuzz_check(ei.msg[0] != '\0' && ei.offset <= size, "a reason");
        return;
    }
    size_t len;
    free(round_trip(app, &len));
    fuzz_check(len <= size, "canonical is shortest");
    manifest_free(app);
}

/* The reference for sizes and counts: digits and one of the units. */
static shoal_err reference_units(const char *s, bool size, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t factor;
        bool size;
    } units[] = {
        {"", 1, true},
        {"B", 1, true},
        {"KiB", 1024, true},
        {"MiB", 1024 * 1024, true},
        {"GiB", 1 << 30, true},
        {"KB", 1000, true},
        {"kB", 1000, true},
        {"MB", 1000000, true},
        {"GB", 1000000000, true},
        {"", 1, false},
        {"k", 1000, false},
        {"M", 1000000, false},
        {"G", 1000000000, false},
    };
    unsigned __int128 v = 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > UINT64_MAX)
            v = (unsigned __int128)UINT64_MAX + 1; /* stays "too big" */
        i++;
    }
    if (i == 0)
        return SHOAL_EINVAL;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (units[u].size != size || strcmp(s + i, units[u].suffix) != 0)
            continue;
        v *= units[u].factor;
        if (v > UINT64_MAX)
            return SHOAL_ELIMIT;
        *out = (uint64_t)v;
        return SHOAL_OK;
    }
    return SHOAL_EINVAL;
}

static void fuzz_units(const uint8_t *data, size_t size)
{
    if (size > 64)
        return;
    char s[65];
    memcpy(s, data, size);
    s[size] = '\0';
    for (int size_units = 0; size_units < 2; size_units++) {
        uint64_t got = 0, want = 0;
        shoal_err err = size_units ? manifest_parse_size(s, &got)
                                   : manifest_parse_count(s, &got);
        fuzz_check(err == reference_units(s, size_units, &want),
                   "the reference's answer");
        fuzz_check(err != SHOAL_OK || got == want, "the reference's value");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse(data, size);
    fuzz_decode(data, size);
    fuzz_units(data, size);
    return 0;
}
