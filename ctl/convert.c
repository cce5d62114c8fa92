/* JSON <-> msgpack and msgpack -> YAML for shoalctl; see convert.h. */
#include "convert.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* ---- base64 --------------------------------------------------------------
 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ctl_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t ctl_base64_encode(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool ctl_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
    if (n % 4 != 0)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0;
        if (last && s[i + 3] == '=')
            pad = s[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : b64_value(s[i + k]);
            if (d < 0)
                return false;
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
    }
    *out_len = o;
    return true;
}

/* ---- JSON -> msgpack -----------------------------------------------------
 */

static shoal_err pack_failed(shoal_errinfo *ei)
{
    return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                             "out of memory encoding msgpack");
}

/* {"$bin": "BASE64"}: the only way to write msgpack bin in JSON. */
static bool is_bin_object(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, "$bin"));
}

static shoal_err pack_bin_object(const json_t *v, msgpack_packer *pk,
                                 shoal_errinfo *ei)
{
    const json_t *s = json_object_get(v, "$bin");
    size_t n = json_string_length(s);
    uint8_t *bytes = malloc(n / 4 * 3 + 1);
    size_t len = 0;
    if (!bytes)
        return pack_failed(ei);
    if (!ctl_base64_decode(json_string_value(s), n, bytes, &len)) {
        free(bytes);
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "the value of \"$bin\" is not base64");
    }
    int rc = msgpack_pack_bin(pk, len);
    if (rc == 0)
        rc = msgpack_pack_bin_body(pk, bytes, len);
    free(bytes);
    return rc == 0 ? SHOAL_OK : pack_failed(ei);
}

shoal_err ctl_json_pack(const json_t *v, msgpack_packer *pk, shoal_errinfo *ei)
{
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (is_bin_object(v))
            return pack_bin_object(v, pk, ei);
        if (msgpack_pack_map(pk, json_object_size(v)) != 0)
            return pack_failed(ei);
        const char *key;
        json_t *val;
        /* json_object_foreach's macro drops const; the object is only
         * read. */
        json_t *obj = (json_t *)v;
        json_object_foreach(obj, key, val)
        {
            size_t klen = strlen(key);
            if (msgpack_pack_str(pk, klen) != 0 ||
                msgpack_pack_str_body(pk, key, klen) != 0)
                return pack_failed(ei);
            shoal_err err = ctl_json_pack(val, pk, ei);
            if (err != SHOAL_OK)
                return err;
        }
        return SHOAL_OK;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (msgpack_pack_array(pk, n) != 0)
            return pack_failed(ei);
        for (size_t i = 0; i < n; i++) {
            shoal_err err = ctl_json_pack(json_array_get(v, i), pk, ei);
            if (err != SHOAL_OK)
                return err;
        }
        return SHOAL_OK;
    }
    case JSON_STRING: {
        size_t n = json_string_length(v);
        rc = msgpack_pack_str(pk, n);
        if (rc == 0)
            rc = msgpack_pack_str_body(pk, json_string_value(v), n);
        break;
    }
    case JSON_INTEGER:
        rc = msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        rc = msgpack_pack_nil(pk);
        break;
    }
    return rc == 0 ? SHOAL_OK : pack_failed(ei);
}

shoal_err ctl_json_to_msgpack(const char *text, size_t len, uint8_t **out,
                              size_t *out_len, shoal_errinfo *ei)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        /* jansson says nothing (line -1, no text) when it cannot allocate
         * its first buffers. */
        bool oom = json_error_code(&jerr) == json_error_out_of_memory ||
                   (jerr.line < 0 && jerr.text[0] == 0);
        if (oom)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory reading JSON");
        shoal_err err = SHOAL_EINVAL;
        return shoal_errinfo_set(
            ei, err, jerr.position < 0 ? SIZE_MAX : (size_t)jerr.position,
            "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
            jerr.text);
    }
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    shoal_err err = ctl_json_pack(v, &pk, ei);
    json_decref(v);
    if (err != SHOAL_OK) {
        msgpack_sbuffer_destroy(&buf);
        return err;
    }
    *out_len = buf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&buf);
    /* An empty buffer has no allocation to hand over. */
    if (!*out && (*out = malloc(1)) == NULL)
        return pack_failed(ei);
    return SHOAL_OK;
}

/* ---- UTF-8 ---------------------------------------------------------------
 */

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when
 * s does not start one (overlong forms, surrogates and code points past
 * U+10FFFF are not valid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static const char replacement_char[] = "\xef\xbf\xbd"; /* U+FFFD */

/* ---- msgpack -> JSON -----------------------------------------------------
 */

static void json_write_string(const char *s, size_t n, FILE *out)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                fputs("\\n", out);
                break;
            case '\r':
                fputs("\\r", out);
                break;
            case '\t':
                fputs("\\t", out);
                break;
            case '\b':
                fputs("\\b", out);
                break;
            case '\f':
                fputs("\\f", out);
                break;
            default:
                fprintf(out, "\\u%04x", c);
            }
            i++;
        } else {
            size_t len = utf8_seq(p + i, n - i);
            if (len == 0) {
                fputs(replacement_char, out);
                i++;
            } else {
                fwrite(p + i, 1, len, out);
                i += len;
            }
        }
    }
    fputc('"', out);
}

/* The shortest decimal that reads back as d (as a float when single). The
 * result always reads as a real: "1.0", not "1". */
static void format_real(double d, bool single, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (single ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", size - strlen(buf) - 1);
}

static void json_write_base64(const char *p, size_t n, FILE *out)
{
    char *b64 = malloc(ctl_base64_len(n) + 1);
    if (!b64) {
        fputs("null", out);
        return;
    }
    ctl_base64_encode((const uint8_t *)p, n, b64);
    fprintf(out, "\"%s\"", b64);
    free(b64);
}

static void json_newline(int indent, int level, FILE *out)
{
    if (indent == 0)
        return;
    fprintf(out, "\n%*s", indent * level, "");
}

static void json_write_key(const msgpack_object *k, FILE *out)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        json_write_string(k->via.str.ptr, k->via.str.size, out);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        fputs("\"\"", out);
        return;
    }
    ctl_msgpack_to_json(k, 0, mem);
    fclose(mem);
    json_write_string(text, len, out);
    free(text);
}

static void json_write(const msgpack_object *o, int indent, int level,
                       FILE *out)
{
    char num[40];
    const char *colon = indent ? ": " : ":";
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs("null", out);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(o->via.boolean ? "true" : "false", out);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf(out, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf(out, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            fputs("null", out);
            break;
        }
        format_real(o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32, num,
                    sizeof num);
        fputs(num, out);
        break;
    case MSGPACK_OBJECT_STR:
        json_write_string(o->via.str.ptr, o->via.str.size, out);
        break;
    case MSGPACK_OBJECT_BIN:
        fprintf(out, "{\"$bin\"%s", colon);
        json_write_base64(o->via.bin.ptr, o->via.bin.size, out);
        fputc('}', out);
        break;
    case MSGPACK_OBJECT_EXT:
        fprintf(out, "{\"$ext\"%s%d,%s\"$data\"%s", colon, o->via.ext.type,
                indent ? " " : "", colon);
        json_write_base64(o->via.ext.ptr, o->via.ext.size, out);
        fputc('}', out);
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (o->via.array.size == 0) {
            fputs("[]", out);
            break;
        }
        fputc('[', out);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i > 0)
                fputc(',', out);
            json_newline(indent, level + 1, out);
            json_write(&o->via.array.ptr[i], indent, level + 1, out);
        }
        json_newline(indent, level, out);
        fputc(']', out);
        break;
    case MSGPACK_OBJECT_MAP:
        if (o->via.map.size == 0) {
            fputs("{}", out);
            break;
        }
        fputc('{', out);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i > 0)
                fputc(',', out);
            json_newline(indent, level + 1, out);
            json_write_key(&o->via.map.ptr[i].key, out);
            fputs(colon, out);
            json_write(&o->via.map.ptr[i].val, indent, level + 1, out);
        }
        json_newline(indent, level, out);
        fputc('}', out);
        break;
    }
}

void ctl_msgpack_to_json(const msgpack_object *o, int indent, FILE *out)
{
    json_write(o, indent, 0, out);
}

/* ---- msgpack -> YAML -----------------------------------------------------
 */

#define YAML_BINARY_TAG "tag:yaml.org,2002:binary"

static int yaml_write_file(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, data) == size;
}

/* Whether a YAML reader would take the plain scalar s for something other
 * than a string: empty, null, a bool, a number, or starting with a
 * character that plain scalars may not start with (libyaml quotes those by
 * itself, but the check is cheap). */
static bool yaml_needs_quotes(const char *s, size_t n)
{
    static const char *const words[] = {
        "null",  "Null",  "NULL",  "~",    "true", "True", "TRUE", "false",
        "False", "FALSE", "yes",   "Yes",  "YES",  "no",   "No",   "NO",
        "on",    "On",    "ON",    "off",  "Off",  "OFF",  ".inf", ".Inf",
        ".INF",  "-.inf", "+.inf", ".nan", ".NaN", ".NAN"};
    if (n == 0)
        return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
            return true;
    /* Anything that starts like a number: 12, -3, +4, .5, 0x1f, 1e3,
     * 2026-11-21 (a timestamp), 1:20 (a YAML 1.1 sexagesimal). */
    size_t i = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    if (i < n && s[i] == '.')
        i++;
    return i < n && s[i] >= '0' && s[i] <= '9';
}

/* A copy of the n bytes at s with invalid UTF-8 replaced by U+FFFD, which
 * libyaml requires; the caller frees it. */
static char *utf8_clean(const char *s, size_t n, size_t *out_len)
{
    char *clean = malloc(n * 3 + 1);
    if (!clean)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq((const unsigned char *)s + i, n - i);
        if (len == 0) {
            memcpy(clean + o, replacement_char, 3);
            o += 3;
            i++;
        } else {
            memcpy(clean + o, s + i, len);
            o += len;
            i += len;
        }
    }
    clean[o] = 0;
    *out_len = o;
    return clean;
}

typedef struct yaml_out {
    yaml_emitter_t em;
    shoal_errinfo *ei;
} yaml_out;

static shoal_err yaml_failed(yaml_out *y)
{
    if (y->em.error == YAML_MEMORY_ERROR)
        return shoal_errinfo_set(y->ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory writing YAML");
    return shoal_errinfo_set(y->ei, SHOAL_EIO, SIZE_MAX,
                             "cannot write YAML: %s",
                             y->em.problem ? y->em.problem : "write error");
}

static shoal_err yaml_emit(yaml_out *y, yaml_event_t *ev, int made)
{
    if (!made)
        return shoal_errinfo_set(y->ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory writing YAML");
    return yaml_emitter_emit(&y->em, ev) ? SHOAL_OK : yaml_failed(y);
}

/* A scalar. plain says whether a plain style would read back as the
 * intended type; tag, when set, is written. */
static shoal_err yaml_scalar(yaml_out *y, const char *tag, const char *s,
                             size_t n, bool plain, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    return yaml_emit(y, &ev,
                     yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag,
                                                  (yaml_char_t *)s, (int)n,
                                                  plain && !tag, !tag, style));
}

static shoal_err yaml_string(yaml_out *y, const char *s, size_t n)
{
    size_t len = 0;
    char *clean = utf8_clean(s, n, &len);
    if (!clean)
        return shoal_errinfo_set(y->ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory writing YAML");
    /* A text of several lines (a manifest) reads best as a literal block;
     * libyaml falls back to quotes where a block is not allowed. */
    yaml_scalar_style_t style = memchr(clean, '\n', len)
                                    ? YAML_LITERAL_SCALAR_STYLE
                                    : YAML_ANY_SCALAR_STYLE;
    shoal_err err =
        yaml_scalar(y, NULL, clean, len, !yaml_needs_quotes(clean, len), style);
    free(clean);
    return err;
}

static shoal_err yaml_binary(yaml_out *y, const char *p, size_t n)
{
    char *b64 = malloc(ctl_base64_len(n) + 1);
    if (!b64)
        return shoal_errinfo_set(y->ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory writing YAML");
    size_t len = ctl_base64_encode((const uint8_t *)p, n, b64);
    shoal_err err =
        yaml_scalar(y, YAML_BINARY_TAG, b64, len, false, YAML_ANY_SCALAR_STYLE);
    free(b64);
    return err;
}

static shoal_err yaml_value(yaml_out *y, const msgpack_object *o)
{
    char num[40];
    yaml_event_t ev;
    shoal_err err;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return yaml_scalar(y, NULL, "null", 4, true, YAML_PLAIN_SCALAR_STYLE);
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean ? yaml_scalar(y, NULL, "true", 4, true,
                                            YAML_PLAIN_SCALAR_STYLE)
                              : yaml_scalar(y, NULL, "false", 5, true,
                                            YAML_PLAIN_SCALAR_STYLE);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(num, sizeof num, "%" PRIu64, o->via.u64);
        return yaml_scalar(y, NULL, num, strlen(num), true,
                           YAML_PLAIN_SCALAR_STYLE);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(num, sizeof num, "%" PRId64, o->via.i64);
        return yaml_scalar(y, NULL, num, strlen(num), true,
                           YAML_PLAIN_SCALAR_STYLE);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isnan(o->via.f64))
            snprintf(num, sizeof num, ".nan");
        else if (isinf(o->via.f64))
            snprintf(num, sizeof num, "%s", o->via.f64 < 0 ? "-.inf" : ".inf");
        else
            format_real(o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32, num,
                        sizeof num);
        return yaml_scalar(y, NULL, num, strlen(num), true,
                           YAML_PLAIN_SCALAR_STYLE);
    case MSGPACK_OBJECT_STR:
        return yaml_string(y, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return yaml_binary(y, o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT:
        err = yaml_emit(y, &ev,
                        yaml_mapping_start_event_initialize(
                            &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
        if (err == SHOAL_OK)
            err =
                yaml_scalar(y, NULL, "type", 4, true, YAML_PLAIN_SCALAR_STYLE);
        if (err == SHOAL_OK) {
            snprintf(num, sizeof num, "%d", o->via.ext.type);
            err = yaml_scalar(y, NULL, num, strlen(num), true,
                              YAML_PLAIN_SCALAR_STYLE);
        }
        if (err == SHOAL_OK)
            err =
                yaml_scalar(y, NULL, "data", 4, true, YAML_PLAIN_SCALAR_STYLE);
        if (err == SHOAL_OK)
            err = yaml_binary(y, o->via.ext.ptr, o->via.ext.size);
        if (err == SHOAL_OK)
            err = yaml_emit(y, &ev, yaml_mapping_end_event_initialize(&ev));
        return err;
    case MSGPACK_OBJECT_ARRAY:
        err = yaml_emit(y, &ev,
                        yaml_sequence_start_event_initialize(
                            &ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
        for (uint32_t i = 0; err == SHOAL_OK && i < o->via.array.size; i++)
            err = yaml_value(y, &o->via.array.ptr[i]);
        if (err == SHOAL_OK)
            err = yaml_emit(y, &ev, yaml_sequence_end_event_initialize(&ev));
        return err;
    case MSGPACK_OBJECT_MAP:
        err = yaml_emit(y, &ev,
                        yaml_mapping_start_event_initialize(
                            &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
        for (uint32_t i = 0; err == SHOAL_OK && i < o->via.map.size; i++) {
            err = yaml_value(y, &o->via.map.ptr[i].key);
            if (err == SHOAL_OK)
                err = yaml_value(y, &o->via.map.ptr[i].val);
        }
        if (err == SHOAL_OK)
            err = yaml_emit(y, &ev, yaml_mapping_end_event_initialize(&ev));
        return err;
    }
    return shoal_errinfo_set(y->ei, SHOAL_EIO, SIZE_MAX,
                             "msgpack type %d has no YAML form", (int)o->type);
}

shoal_err ctl_msgpack_to_yaml(const msgpack_object *o, FILE *out,
                              shoal_errinfo *ei)
{
    yaml_out y = {.ei = ei};
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&y.em))
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory writing YAML");
    yaml_emitter_set_output(&y.em, yaml_write_file, out);
    yaml_emitter_set_unicode(&y.em, 1);
    /* Long strings stay on one line, so that grep finds them. */
    yaml_emitter_set_width(&y.em, -1);
    yaml_emitter_set_indent(&y.em, 2);

    shoal_err err = yaml_emit(
        &y, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    if (err == SHOAL_OK)
        err = yaml_emit(
            &y, &ev,
            yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    if (err == SHOAL_OK)
        err = yaml_value(&y, o);
    if (err == SHOAL_OK)
        err = yaml_emit(&y, &ev, yaml_document_end_event_initialize(&ev, 1));
    if (err == SHOAL_OK)
        err = yaml_emit(&y, &ev, yaml_stream_end_event_initialize(&ev));
    if (err == SHOAL_OK && !yaml_emitter_flush(&y.em))
        err = yaml_failed(&y);
    yaml_emitter_delete(&y.em);
    return err;
}
