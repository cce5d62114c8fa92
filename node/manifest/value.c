/* YAML values -> msgpack: the init message of an actor and the config of
 * its links.
 *
 * Scalars are typed by the YAML 1.2 core schema: a plain scalar is null
 * (~, null, or nothing), a bool (true, false in three capitalizations), an
 * integer (decimal, 0o octal, 0x hex), a float (1.5, 1e3, .inf, .nan) or
 * else a string; a quoted or block scalar is always a string. YAML 1.1's
 * yes, no, on and off are strings. An explicit core tag (!!str, !!int, ...)
 * forces its type; other tags are refused.
 *
 * The encoding is canonical, so that two manifests that mean the same give
 * the same bytes: integers in their shortest msgpack form (msgpack-c's
 * packer picks it), floats always as float 64, and map entries sorted by
 * the bytes of their encoded keys. Keys are compared by those bytes too, so
 * 1 and 0x1 are the same key, and 1 and "1" are not.
 */
#include "manifest_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CORE_TAG "tag:yaml.org,2002:"

static bool words_have(const char *const *words, const char *s, size_t len)
{
    for (; *words != NULL; words++)
        if (strlen(*words) == len && memcmp(*words, s, len) == 0)
            return true;
    return false;
}

static bool text_is(const ynode *n, const char *const *words)
{
    return words_have(words, n->text, n->len);
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};

static bool is_null_text(const ynode *n)
{
    return n->len == 0 || text_is(n, null_words);
}

bool manifest__is_null(const ynode *n)
{
    if (n->kind != YNODE_SCALAR)
        return false;
    if (n->tag == NULL)
        return n->plain && is_null_text(n);
    return strcmp(n->tag, CORE_TAG "null") == 0 && is_null_text(n);
}

static int digit_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return 99;
}

typedef enum int_syntax {
    INT_NOT,   /* not an integer */
    INT_OK,    /* *out holds it */
    INT_RANGE, /* an integer out of range */
} int_syntax;

/* Reads an integer of the core schema: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+.
 */
static int_syntax read_int(const char *s, size_t len, yscalar *out)
{
    size_t i = 0;
    unsigned base = 10;
    bool negative = false;
    if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        i = 2;
    } else if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return INT_NOT;
    uint64_t v = 0;
    bool overflow = false;
    for (; i < len; i++) {
        int d = digit_value(s[i]);
        if (d >= (int)base)
            return INT_NOT;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            overflow = true;
        v = v * base + (uint64_t)d;
    }
    if (overflow || (negative && v > (uint64_t)INT64_MAX + 1))
        return INT_RANGE;
    out->kind = YSCALAR_INT;
    out->negative = negative && v != 0;
    if (out->negative)
        out->i = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        out->u = v;
    return INT_OK;
}

/* Whether s is a float of the core schema other than .inf and .nan:
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_syntax(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        size_t frac = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac++;
        }
        if (digits == 0 && frac == 0)
            return false;
    } else if (digits == 0) {
        return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t exp = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp++;
        }
        if (exp == 0)
            return false;
    }
    return i == len;
}

static const char *const inf_words[] = {".inf", ".Inf", ".INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

typedef enum float_result {
    FLOAT_NOT,
    FLOAT_OK,
    FLOAT_RANGE,
} float_result;

static float_result read_float(const ynode *n, yscalar *out)
{
    out->kind = YSCALAR_FLOAT;
    if (text_is(n, nan_words)) {
        out->d = NAN;
        return FLOAT_OK;
    }
    if (n->len > 1 && (n->text[0] == '-' || n->text[0] == '+') &&
        words_have(inf_words, n->text + 1, n->len - 1)) {
        out->d = n->text[0] == '-' ? -INFINITY : INFINITY;
        return FLOAT_OK;
    }
    if (text_is(n, inf_words)) {
        out->d = INFINITY;
        return FLOAT_OK;
    }
    /* The text is NUL-terminated and holds only what float_syntax let
     * through, which strtod reads the same way (in the "C" locale, which
     * nothing in Shoal changes). */
    if (!float_syntax(n->text, n->len) || strlen(n->text) != n->len)
        return FLOAT_NOT;
    errno = 0;
    out->d = strtod(n->text, NULL);
    if (errno == ERANGE && isinf(out->d))
        return FLOAT_RANGE;
    return FLOAT_OK;
}

void manifest__tag_name(const char *tag, char *buf, size_t size)
{
    if (strncmp(tag, CORE_TAG, strlen(CORE_TAG)) == 0)
        snprintf(buf, size, "!!%s", tag + strlen(CORE_TAG));
    else
        snprintf(buf, size, "%s", tag);
}

static shoal_err bad_text(manifest__ctx *c, const ynode *n, const char *what)
{
    char got[64];
    manifest__quote(got, sizeof got, n->text, n->len);
    return manifest__fail(c, n, NULL, "%s, got %s", what, got);
}

/* Types an untagged plain scalar. */
static shoal_err resolve_plain(manifest__ctx *c, const ynode *n, yscalar *out)
{
    if (is_null_text(n)) {
        out->kind = YSCALAR_NULL;
        return SHOAL_OK;
    }
    if (text_is(n, true_words) || text_is(n, false_words)) {
        out->kind = YSCALAR_BOOL;
        out->b = text_is(n, true_words);
        return SHOAL_OK;
    }
    switch (read_int(n->text, n->len, out)) {
    case INT_OK:
        return SHOAL_OK;
    case INT_RANGE:
        return bad_text(c, n,
                        "integer out of range (-2^63 to 2^64-1; quote it to "
                        "make it a string)");
    case INT_NOT:
        break;
    }
    switch (read_float(n, out)) {
    case FLOAT_OK:
        return SHOAL_OK;
    case FLOAT_RANGE:
        return bad_text(c, n, "number out of range");
    case FLOAT_NOT:
        break;
    }
    out->kind = YSCALAR_STR;
    return SHOAL_OK;
}

shoal_err manifest__scalar(manifest__ctx *c, const ynode *n, yscalar *out)
{
    memset(out, 0, sizeof *out);
    const char *tag = n->tag;
    if (tag == NULL && n->plain)
        return resolve_plain(c, n, out);
    if (tag == NULL || strcmp(tag, "!") == 0 ||
        strcmp(tag, CORE_TAG "str") == 0) {
        out->kind = YSCALAR_STR;
        return SHOAL_OK;
    }
    if (strcmp(tag, CORE_TAG "null") == 0) {
        if (!is_null_text(n))
            return bad_text(c, n, "!!null needs ~, null or nothing");
        out->kind = YSCALAR_NULL;
        return SHOAL_OK;
    }
    if (strcmp(tag, CORE_TAG "bool") == 0) {
        if (!text_is(n, true_words) && !text_is(n, false_words))
            return bad_text(c, n, "!!bool needs true or false");
        out->kind = YSCALAR_BOOL;
        out->b = text_is(n, true_words);
        return SHOAL_OK;
    }
    if (strcmp(tag, CORE_TAG "int") == 0) {
        switch (read_int(n->text, n->len, out)) {
        case INT_OK:
            return SHOAL_OK;
        case INT_RANGE:
            return bad_text(c, n, "integer out of range (-2^63 to 2^64-1)");
        case INT_NOT:
            break;
        }
        return bad_text(c, n, "!!int needs an integer");
    }
    if (strcmp(tag, CORE_TAG "float") == 0) {
        switch (read_float(n, out)) {
        case FLOAT_OK:
            return SHOAL_OK;
        case FLOAT_RANGE:
            return bad_text(c, n, "number out of range");
        case FLOAT_NOT:
            break;
        }
        return bad_text(c, n, "!!float needs a number");
    }
    char name[64];
    manifest__tag_name(tag, name, sizeof name);
    return manifest__fail(c, n, NULL,
                          "unsupported tag %s (only !!str, !!int, !!float, "
                          "!!bool and !!null)",
                          name);
}

/* ---- packing ---- */

typedef struct packing {
    manifest__ctx *c;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool string_keys;
} packing;

/* One entry of a map while it is sorted: where its key and value were
 * packed (in document order) in the map's region of the buffer. */
typedef struct map_entry {
    const ynode *key;
    const uint8_t *bytes; /* the region, once packing is done */
    size_t key_off, key_len, value_off, value_len;
} map_entry;

static int compare_entries(const void *pa, const void *pb)
{
    const map_entry *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int d = memcmp(a->bytes + a->key_off, b->bytes + b->key_off, n);
    if (d != 0)
        return d;
    if (a->key_len != b->key_len)
        return a->key_len < b->key_len ? -1 : 1;
    /* Equal keys stay in document order, for the duplicate message. */
    return a->key->index < b->key->index ? -1 : a->key->index > b->key->index;
}

static bool same_key(const uint8_t *bytes, const map_entry *a,
                     const map_entry *b)
{
    return a->key_len == b->key_len &&
           memcmp(bytes + a->key_off, bytes + b->key_off, a->key_len) == 0;
}

static shoal_err pack_node(packing *pg, const ynode *n, unsigned depth);

static shoal_err pack_scalar(packing *pg, const ynode *n)
{
    yscalar v;
    shoal_err err = manifest__scalar(pg->c, n, &v);
    if (err != SHOAL_OK)
        return err;
    int r;
    switch (v.kind) {
    case YSCALAR_NULL:
        r = msgpack_pack_nil(&pg->pk);
        break;
    case YSCALAR_BOOL:
        r = v.b ? msgpack_pack_true(&pg->pk) : msgpack_pack_false(&pg->pk);
        break;
    case YSCALAR_INT:
        r = v.negative ? msgpack_pack_int64(&pg->pk, v.i)
                       : msgpack_pack_uint64(&pg->pk, v.u);
        break;
    case YSCALAR_FLOAT:
        r = msgpack_pack_double(&pg->pk, v.d);
        break;
    default:
        r = msgpack_pack_str_with_body(&pg->pk, n->text, n->len);
        break;
    }
    return r == 0 ? SHOAL_OK : manifest__nomem(pg->c);
}

static shoal_err pack_key(packing *pg, const ynode *k)
{
    if (k->kind != YNODE_SCALAR) {
        char got[64];
        manifest__describe(k, got, sizeof got);
        return manifest__fail(pg->c, k, NULL, "a key must be a scalar, got %s",
                              got);
    }
    if (!pg->string_keys)
        return pack_scalar(pg, k);
    if (msgpack_pack_str_with_body(&pg->pk, k->text, k->len) != 0)
        return manifest__nomem(pg->c);
    return SHOAL_OK;
}

/* Packs the entries in document order, then rewrites the region in key
 * order behind the map's header. */
static shoal_err pack_map(packing *pg, const ynode *n, unsigned depth)
{
    size_t count = n->count / 2;
    size_t base = pg->sb.size;
    map_entry *entries = NULL;
    uint8_t *copy = NULL;
    shoal_err err = SHOAL_OK;
    if (count > 0) {
        entries = calloc(count, sizeof *entries);
        if (entries == NULL)
            return manifest__nomem(pg->c);
    }
    size_t i = 0;
    for (const ynode *k = n->first; k != NULL; k = k->next->next, i++) {
        entries[i].key = k;
        entries[i].key_off = pg->sb.size - base;
        err = pack_key(pg, k);
        if (err != SHOAL_OK)
            goto free_scratch;
        entries[i].key_len = pg->sb.size - base - entries[i].key_off;
        entries[i].value_off = pg->sb.size - base;
        err = pack_node(pg, k->next, depth);
        if (err != SHOAL_OK)
            goto free_scratch;
        entries[i].value_len = pg->sb.size - base - entries[i].value_off;
    }

    size_t region = pg->sb.size - base;
    if (region > 0) {
        copy = malloc(region);
        if (copy == NULL) {
            err = manifest__nomem(pg->c);
            goto free_scratch;
        }
        memcpy(copy, pg->sb.data + base, region);
    }
    for (i = 0; i < count; i++)
        entries[i].bytes = copy;
    if (count > 1)
        qsort(entries, count, sizeof *entries, compare_entries);

    /* Equal keys are now runs, each in document order. Of all the keys that
     * repeat an earlier one, name the first in the document. */
    const map_entry *dup = NULL, *first = NULL;
    for (i = 1; i < count; i++) {
        if (!same_key(copy, &entries[i], &entries[i - 1]) ||
            (i > 1 && same_key(copy, &entries[i - 1], &entries[i - 2])))
            continue;
        if (dup == NULL || entries[i].key->index < dup->key->index) {
            dup = &entries[i];
            first = &entries[i - 1];
        }
    }
    if (dup != NULL) {
        err = manifest__fail(pg->c, dup->key, NULL,
                             "duplicate key (first at line %zu, column %zu)",
                             first->key->line + 1, first->key->column + 1);
        goto free_scratch;
    }

    pg->sb.size = base;
    int r = msgpack_pack_map(&pg->pk, count);
    for (i = 0; i < count && r == 0; i++) {
        r = msgpack_sbuffer_write(&pg->sb,
                                  (const char *)copy + entries[i].key_off,
                                  entries[i].key_len);
        if (r == 0)
            r = msgpack_sbuffer_write(&pg->sb,
                                      (const char *)copy + entries[i].value_off,
                                      entries[i].value_len);
    }
    if (r != 0)
        err = manifest__nomem(pg->c);
free_scratch:
    free(copy);
    free(entries);
    return err;
}

static bool collection_tag_ok(const ynode *n)
{
    if (n->tag == NULL || strcmp(n->tag, "!") == 0)
        return true;
    return strcmp(n->tag,
                  n->kind == YNODE_SEQ ? CORE_TAG "seq" : CORE_TAG "map") == 0;
}

/* depth: how many collections hold n. */
static shoal_err pack_node(packing *pg, const ynode *n, unsigned depth)
{
    if (n->kind == YNODE_SCALAR)
        return pack_scalar(pg, n);
    if (!collection_tag_ok(n)) {
        char name[64];
        manifest__tag_name(n->tag, name, sizeof name);
        return manifest__fail(pg->c, n, NULL, "unsupported tag %s on a %s",
                              name, n->kind == YNODE_SEQ ? "list" : "map");
    }
    if (depth == MANIFEST_MAX_DEPTH)
        return manifest__fail(pg->c, n, NULL, "nested deeper than %d levels",
                              MANIFEST_MAX_DEPTH);
    if (n->kind == YNODE_MAP)
        return pack_map(pg, n, depth + 1);
    if (msgpack_pack_array(&pg->pk, n->count) != 0)
        return manifest__nomem(pg->c);
    for (const ynode *item = n->first; item != NULL; item = item->next) {
        shoal_err err = pack_node(pg, item, depth + 1);
        if (err != SHOAL_OK)
            return err;
    }
    return SHOAL_OK;
}

shoal_err manifest__pack_value(manifest__ctx *c, const ynode *n,
                               bool string_keys, uint8_t **out, size_t *len)
{
    packing pg = {.c = c, .string_keys = string_keys};
    msgpack_sbuffer_init(&pg.sb);
    msgpack_packer_init(&pg.pk, &pg.sb, msgpack_sbuffer_write);
    shoal_err err = pack_node(&pg, n, 0);
    if (err != SHOAL_OK) {
        msgpack_sbuffer_destroy(&pg.sb);
        return err;
    }
    *out = (uint8_t *)pg.sb.data;
    *len = pg.sb.size;
    return SHOAL_OK;
}
