/* Response maps to bytes: reading the dispatcher's msgpack map, checking
 * its headers, and writing the status line and header block. */
#include <string.h>

#include "http_impl.h"
#include "shoal_msg.h"

const char *http__status_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        break;
    }
    switch (status / 100) {
    case 2:
        return "Success";
    case 3:
        return "Redirection";
    case 4:
        return "Client Error";
    default:
        return "Server Error";
    }
}

const char *http__date(http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != s->date_sec || s->date[0] == '\0') {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = now;
    }
    return s->date;
}

bool http__parse_response(http_server *s, const uint8_t *resp, size_t len,
                          int *status, const msgpack_object **headers,
                          const char **body, size_t *body_len, const char **why)
{
    *status = 200;
    *headers = NULL;
    *body = NULL;
    *body_len = 0;
    if (resp == NULL || len == 0) {
        *why = "empty response";
        return false;
    }
    /* msgpack-c sizes arrays and maps by the counts their headers claim,
     * before reading any element: a few bytes could ask for gigabytes.
     * msg_validate reads the whole value without allocating, so that what
     * msgpack-c then allocates is backed by bytes that are really there. */
    if (msg_validate(resp, len, NULL) != SHOAL_OK) {
        *why = "not one msgpack value of at most 1 MiB";
        return false;
    }
    size_t off = 0;
    msgpack_object root;
    msgpack_unpack_return r =
        msgpack_unpack((const char *)resp, len, &off, &s->zone, &root);
    if (r == MSGPACK_UNPACK_EXTRA_BYTES) {
        *why = "bytes after the response map";
        return false;
    }
    if (r != MSGPACK_UNPACK_SUCCESS) {
        *why = r == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory"
                                               : "not a msgpack value";
        return false;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        *why = "not a map";
        return false;
    }
    for (uint32_t i = 0; i < root.via.map.size; i++) {
        const msgpack_object *k = &root.via.map.ptr[i].key;
        const msgpack_object *v = &root.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        const char *key = k->via.str.ptr;
        uint32_t klen = k->via.str.size;
        if (klen == 6 && memcmp(key, "status", 6) == 0) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                v->via.u64 < 200 || v->via.u64 > 599) {
                *why = "\"status\" is not an integer from 200 to 599";
                return false;
            }
            *status = (int)v->via.u64;
        } else if (klen == 7 && memcmp(key, "headers", 7) == 0) {
            if (v->type != MSGPACK_OBJECT_ARRAY &&
                v->type != MSGPACK_OBJECT_MAP &&
                v->type != MSGPACK_OBJECT_NIL) {
                *why = "\"headers\" is not an array or a map";
                return false;
            }
            *headers = v->type == MSGPACK_OBJECT_NIL ? NULL : v;
        } else if (klen == 4 && memcmp(key, "body", 4) == 0) {
            if (v->type == MSGPACK_OBJECT_BIN) {
                *body = v->via.bin.ptr;
                *body_len = v->via.bin.size;
            } else if (v->type == MSGPACK_OBJECT_STR) {
                *body = v->via.str.ptr;
                *body_len = v->via.str.size;
            } else if (v->type != MSGPACK_OBJECT_NIL) {
                *why = "\"body\" is not bin or str";
                return false;
            }
        }
    }
    return true;
}

/* ---- the head ---- */

static bool put(hbuf *b, const char *s, size_t n)
{
    return http__buf_append(b, s, n);
}

static bool puts_(hbuf *b, const char *s)
{
    return put(b, s, strlen(s));
}

static bool put_u64(hbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return put(b, tmp + i, sizeof tmp - i);
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool name_is(const char *name, size_t len, const char *lower)
{
    return len == strlen(lower) && strncasecmp(name, lower, len) == 0;
}

/* Whether a Connection value lists "close". */
static bool lists_close(const char *v, size_t len)
{
    for (size_t i = 0; i + 5 <= len; i++) {
        if (strncasecmp(v + i, "close", 5) != 0)
            continue;
        bool start =
            i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t';
        bool end = i + 5 == len || v[i + 5] == ',' || v[i + 5] == ' ' ||
                   v[i + 5] == '\t';
        if (start && end)
            return true;
    }
    return false;
}

static bool as_bytes(const msgpack_object *o, const char **p, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *len = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *len = o->via.bin.size;
        return true;
    }
    return false;
}

/* Checks one of the actor's headers and, with write, appends it, unless
 * the server owns it. */
static bool put_header(http_conn *c, hbuf *b, const msgpack_object *name,
                       const msgpack_object *value, bool write,
                       const char **why)
{
    const char *n, *v;
    size_t nl, vl;
    if (!as_bytes(name, &n, &nl) || !as_bytes(value, &v, &vl)) {
        *why = "a header name or value is not a string";
        return false;
    }
    if (!write) {
        if (nl == 0) {
            *why = "an empty header name";
            return false;
        }
        for (size_t i = 0; i < nl; i++) {
            if (!is_tchar((unsigned char)n[i])) {
                *why = "a header name holds a character outside a token";
                return false;
            }
        }
        for (size_t i = 0; i < vl; i++) {
            unsigned char ch = (unsigned char)v[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                *why = "a header value holds CR, LF or another control "
                       "character";
                return false;
            }
        }
    }
    if (name_is(n, nl, "connection")) {
        if (lists_close(v, vl))
            c->close_after = true;
        return true;
    }
    if (!write || name_is(n, nl, "content-length") ||
        name_is(n, nl, "transfer-encoding") || name_is(n, nl, "date") ||
        name_is(n, nl, "server"))
        return true;
    if (!put(b, n, nl) || !put(b, ": ", 2) || !put(b, v, vl) ||
        !put(b, "\r\n", 2)) {
        *why = "out of memory";
        return false;
    }
    return true;
}

/* Checks the actor's headers (without write) or appends them (with). */
static bool put_headers(http_conn *c, hbuf *b, const msgpack_object *h,
                        bool write, const char **why)
{
    if (h->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < h->via.map.size; i++)
            if (!put_header(c, b, &h->via.map.ptr[i].key,
                            &h->via.map.ptr[i].val, write, why))
                return false;
        return true;
    }
    for (uint32_t i = 0; i < h->via.array.size; i++) {
        const msgpack_object *pair = &h->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2) {
            *why = "a header is not a [name, value] pair";
            return false;
        }
        if (!put_header(c, b, &pair->via.array.ptr[0], &pair->via.array.ptr[1],
                        write, why))
            return false;
    }
    return true;
}

bool http__format_head(http_conn *c, int status, const msgpack_object *headers,
                       size_t body_len, bool text, bool *no_body,
                       const char **why)
{
    http_server *s = c->s;
    hbuf *b = &s->resp_head;
    const char *phrase = http__status_phrase(status);
    b->len = 0;
    if (text)
        body_len = strlen(phrase) + 1;
    /* The body is left out of answers to HEAD (its length is still
     * told) and of 204 and 304 (which have no length either). */
    bool bodiless = status == 204 || status == 304;
    *no_body = bodiless || c->req_head;
    /* First check the actor's headers, and learn whether they close the
     * connection. */
    if (headers != NULL && !put_headers(c, b, headers, false, why))
        return false;
    const char *date = http__date(s);
    /* Room for everything but the actor's headers, so that only those
     * need checked appends. */
    if (!http__buf_reserve(b, 256 + strlen(phrase) * 2)) {
        *why = "out of memory";
        return false;
    }
    char *p = b->p;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = stpcpy(p, phrase);
    p = stpcpy(p, "\r\nDate: ");
    p = stpcpy(p, date);
    p = stpcpy(p, "\r\nServer: shoal\r\n");
    b->len = (size_t)(p - b->p);
    if (!bodiless) {
        put(b, "Content-Length: ", 16);
        put_u64(b, body_len);
        put(b, "\r\n", 2);
    }
    if (text)
        puts_(b, "Content-Type: text/plain; charset=utf-8\r\n");
    if (headers != NULL && !put_headers(c, b, headers, true, why))
        return false;
    bool ok;
    if (c->close_after)
        ok = puts_(b, "Connection: close\r\n\r\n");
    else if (c->req_http10)
        ok = puts_(b, "Connection: keep-alive\r\n\r\n");
    else
        ok = put(b, "\r\n", 2);
    if (ok && text && !*no_body)
        ok = puts_(b, phrase) && put(b, "\n", 1);
    if (!ok) {
        *why = "out of memory";
        return false;
    }
    return true;
}
