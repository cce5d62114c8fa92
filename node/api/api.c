/* Helpers for the control protocol's msgpack maps; see shoal_api.h. */
#include "shoal_api.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "shoal_msg.h"

shoal_err api_parse(const void *buf, size_t len, api_msg *out,
                    shoal_errinfo *ei)
{
    size_t off = 0;
    msgpack_unpacked_init(&out->u);
    out->root = NULL;
    /* Checked first: msgpack-c allocates what a header claims, so a few
     * bytes could ask it for gigabytes. */
    shoal_err err = msg_validate_max(buf, len, SHOAL_API_MAX_MSG, ei);
    if (err)
        return err == SHOAL_ELIMIT ? err : SHOAL_EMALFORMED;
    msgpack_unpack_return r = msgpack_unpack_next(&out->u, buf, len, &off);
    switch (r) {
    case MSGPACK_UNPACK_SUCCESS:
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        msgpack_unpacked_destroy(&out->u);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory decoding a message");
    case MSGPACK_UNPACK_CONTINUE:
        msgpack_unpacked_destroy(&out->u);
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, len,
                                 "message truncated at byte %zu", len);
    default:
        msgpack_unpacked_destroy(&out->u);
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                 "message is not valid msgpack");
    }
    if (off != len) {
        msgpack_unpacked_destroy(&out->u);
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                 "%zu bytes after the message", len - off);
    }
    if (out->u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&out->u);
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                 "message is not a map");
    }
    out->root = &out->u.data;
    return SHOAL_OK;
}

void api_msg_free(api_msg *m)
{
    if (m->root)
        msgpack_unpacked_destroy(&m->u);
    m->root = NULL;
}

bool api_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *api_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (api_str_eq(&kv->key, key))
            return &kv->val;
    }
    return NULL;
}

bool api_get_str(const msgpack_object *map, const char *key, const char **s,
                 size_t *len)
{
    const msgpack_object *o = api_get(map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return false;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

bool api_get_int(const msgpack_object *map, const char *key, int64_t *v)
{
    const msgpack_object *o = api_get(map, key);
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

bool api_get_bool(const msgpack_object *map, const char *key, bool *v)
{
    const msgpack_object *o = api_get(map, key);
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *v = o->via.boolean;
    return true;
}

bool api_get_bin(const msgpack_object *map, const char *key, const uint8_t **p,
                 size_t *len)
{
    const msgpack_object *o = api_get(map, key);
    if (!o || o->type != MSGPACK_OBJECT_BIN)
        return false;
    *p = (const uint8_t *)o->via.bin.ptr;
    *len = o->via.bin.size;
    return true;
}

char *api_strdup(const msgpack_object *o)
{
    if (!o || o->type != MSGPACK_OBJECT_STR ||
        memchr(o->via.str.ptr, 0, o->via.str.size))
        return NULL;
    char *s = malloc(o->via.str.size + 1);
    if (!s)
        return NULL;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = 0;
    return s;
}

void api_writer_init(api_writer *w)
{
    msgpack_sbuffer_init(&w->buf);
    msgpack_packer_init(&w->pk, &w->buf, msgpack_sbuffer_write);
}

void api_writer_free(api_writer *w)
{
    msgpack_sbuffer_destroy(&w->buf);
}

uint8_t *api_writer_take(api_writer *w, size_t *len)
{
    *len = w->buf.size;
    return (uint8_t *)msgpack_sbuffer_release(&w->buf);
}

void api_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

void api_pack_str(msgpack_packer *pk, const char *s)
{
    api_pack_strn(pk, s ? s : "", s ? strlen(s) : 0);
}

void api_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    api_pack_str(pk, key);
    api_pack_str(pk, value);
}

void api_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    api_pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

void api_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    api_pack_str(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void api_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p,
                     size_t len)
{
    api_pack_str(pk, key);
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

void api_pack_request(msgpack_packer *pk, const char *op, uint32_t n_args)
{
    msgpack_pack_map(pk, n_args + 2);
    api_pack_kv_int(pk, "v", SHOAL_API_VERSION);
    api_pack_kv_str(pk, "op", op);
}

void api_pack_ok(msgpack_packer *pk, uint32_t n_fields)
{
    msgpack_pack_map(pk, n_fields + 2);
    api_pack_kv_int(pk, "v", SHOAL_API_VERSION);
    api_pack_kv_bool(pk, "ok", true);
}

void api_pack_error(msgpack_packer *pk, shoal_err err, const char *message)
{
    msgpack_pack_map(pk, 4);
    api_pack_kv_int(pk, "v", SHOAL_API_VERSION);
    api_pack_kv_bool(pk, "ok", false);
    api_pack_kv_str(pk, "error", shoal_err_name(err));
    api_pack_kv_str(pk, "message", message ? message : shoal_strerror(err));
}

shoal_err api_err_from_name(const char *name, size_t len)
{
    for (int e = 0; e < SHOAL_ERR_COUNT; e++) {
        const char *n = shoal_err_name((shoal_err)e);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (shoal_err)e;
    }
    return SHOAL_ERR_COUNT;
}

shoal_err api_reply_status(const msgpack_object *reply, shoal_errinfo *ei)
{
    bool ok = false;
    if (api_get_bool(reply, "ok", &ok) && ok)
        return SHOAL_OK;
    const char *name = "", *msg = "";
    size_t nlen = 0, mlen = 0;
    api_get_str(reply, "error", &name, &nlen);
    api_get_str(reply, "message", &msg, &mlen);
    shoal_err err = api_err_from_name(name, nlen);
    if (err == SHOAL_ERR_COUNT || err == SHOAL_OK)
        err = SHOAL_EINVAL;
    if (mlen == 0)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "%s", shoal_strerror(err));
    return shoal_errinfo_set(ei, err, SIZE_MAX, "%.*s", (int)mlen, msg);
}

void api_sha256_hex(const uint8_t *bytes, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(bytes, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = 0;
}
