/* libyaml's events -> a tree of ynodes, and the messages that point into it.
 *
 * libyaml's own document API (yaml_parser_load) would build a tree too, but
 * it resolves aliases into shared nodes, so that a few lines of anchors and
 * aliases make a value exponentially large once encoded, and it forgets
 * where an alias was written. Reading events, we refuse an alias where it
 * stands, stop at the first container nested deeper than
 * MANIFEST__TREE_DEPTH, and keep for every node the path from the root that
 * error messages name.
 *
 * libyaml's marks count characters; ynodes keep both its line and column
 * (for people) and the byte offset (for shoal_errinfo).
 */
#include "manifest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* ---- arena ---- */

struct manifest__chunk {
    manifest__chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define CHUNK_SIZE (16u << 10)

void *manifest__alloc(manifest__arena *a, size_t n)
{
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    manifest__chunk *ch = a->chunks;
    if (ch == NULL || ch->size - ch->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        ch = malloc(sizeof *ch + size);
        if (ch == NULL)
            return NULL;
        ch->used = 0;
        ch->size = size;
        ch->next = a->chunks;
        a->chunks = ch;
    }
    void *p = (char *)ch->data + ch->used;
    ch->used += n;
    return p;
}

void manifest__arena_free(manifest__arena *a)
{
    while (a->chunks != NULL) {
        manifest__chunk *next = a->chunks->next;
        free(a->chunks);
        a->chunks = next;
    }
}

/* ---- positions ---- */

/* The number of bytes of the UTF-8 character that starts with byte b. An
 * invalid lead byte counts as one; libyaml has refused the text by then. */
static size_t utf8_width(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if ((b & 0xe0) == 0xc0)
        return 2;
    if ((b & 0xf0) == 0xe0)
        return 3;
    if ((b & 0xf8) == 0xf0)
        return 4;
    return 1;
}

/* The byte offset in c->text of libyaml's character index chars. */
static size_t byte_offset(manifest__ctx *c, size_t chars)
{
    if (chars < c->conv_chars) {
        c->conv_chars = 0;
        c->conv_bytes = c->bom;
    }
    while (c->conv_chars < chars && c->conv_bytes < c->len) {
        c->conv_bytes += utf8_width((unsigned char)c->text[c->conv_bytes]);
        c->conv_chars++;
    }
    return c->conv_bytes < c->len ? c->conv_bytes : c->len;
}

/* The 0-based line and column (in characters) of byte offset off, for
 * libyaml's reader errors, which give bytes only. */
static void line_column(const manifest__ctx *c, size_t off, size_t *line,
                        size_t *column)
{
    *line = 0;
    *column = 0;
    for (size_t i = c->bom; i < off && i < c->len;) {
        unsigned char b = (unsigned char)c->text[i];
        if (b == '\n' ||
            (b == '\r' && (i + 1 >= c->len || c->text[i + 1] != '\n'))) {
            (*line)++;
            *column = 0;
            i++;
            continue;
        }
        (*column)++;
        i += utf8_width(b);
    }
}

/* Where a mark of libyaml's is. At the end of the input libyaml starts a
 * line that is not there ("{" ends at line 2, column 1), so a mark there is
 * placed from the offset instead (line 1, column 2). */
typedef struct place {
    size_t line, column, offset;
} place;

static place place_of(manifest__ctx *c, const yaml_mark_t *mark)
{
    place p = {mark->line, mark->column, byte_offset(c, mark->index)};
    if (p.offset == c->len)
        line_column(c, p.offset, &p.line, &p.column);
    return p;
}

/* ---- messages ---- */

void manifest__quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t pos = 0;
    /* Room kept for the longest escape, "...", the quote and the NUL. */
    size_t limit = size < 60 ? size : 60;
    if (size < 16) {
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    buf[pos++] = '"';
    size_t i = 0;
    for (; i < len && pos + 10 < limit; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)ch;
        } else if (ch == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = 'n';
        } else if (ch == '\t') {
            buf[pos++] = '\\';
            buf[pos++] = 't';
        } else if (ch < 0x20 || ch == 0x7f) {
            pos += (size_t)snprintf(buf + pos, size - pos, "\\x%02x", ch);
        } else {
            buf[pos++] = (char)ch;
        }
    }
    if (i < len) {
        /* Cut between characters, not inside one (no escape is inside a
         * character, so buf and s step back together). */
        while (pos > 1 && ((unsigned char)s[i] & 0xc0) == 0x80) {
            pos--;
            i--;
        }
        memcpy(buf + pos, "...", 3);
        pos += 3;
    }
    buf[pos++] = '"';
    buf[pos] = '\0';
}

void manifest__describe(const ynode *n, char *buf, size_t size)
{
    if (n->kind == YNODE_SEQ)
        snprintf(buf, size, "a list");
    else if (n->kind == YNODE_MAP)
        snprintf(buf, size, "a map");
    else if (manifest__is_null(n))
        snprintf(buf, size, "null");
    else
        manifest__quote(buf, size, n->text, n->len);
}

/* A growing string of bounded size. */
typedef struct strbuf {
    char *p;
    size_t size, len;
} strbuf;

static void put(strbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n && b->len + 1 < b->size; i++)
        b->p[b->len++] = s[i];
    b->p[b->len] = '\0';
}

static void puts_(strbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Whether a key can stand in a path as .key rather than ["key"]. */
static bool plain_segment(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* Appends the segment of a key named text. */
static void put_key(strbuf *b, const char *text, size_t len)
{
    if (plain_segment(text, len)) {
        if (b->len > 0)
            puts_(b, ".");
        put(b, text, len);
    } else {
        char q[64];
        manifest__quote(q, sizeof q, text, len);
        puts_(b, "[");
        puts_(b, q);
        puts_(b, "]");
    }
}

/* Appends the segment that names n in its parent. */
static void put_segment(strbuf *b, const ynode *n)
{
    if (n->parent->kind == YNODE_SEQ) {
        char num[32];
        snprintf(num, sizeof num, "[%zu]", n->index);
        puts_(b, num);
    } else if (n->key->kind == YNODE_SCALAR) {
        put_key(b, n->key->text, n->key->len);
    } else {
        puts_(b, "[?]"); /* a list or map as a key */
    }
}

/* Writes the path of n, plus field, into out. A long one loses whole
 * segments from its middle: "a.b[0][0]...[0].c". */
static void path_of(const ynode *n, const char *field, char *out, size_t size)
{
    /* Nodes from n up to the root's child; the tree is no deeper. */
    const ynode *chain[MANIFEST__TREE_DEPTH + 2];
    size_t depth = 0;
    for (const ynode *p = n; p != NULL && p->parent != NULL &&
                             depth < sizeof chain / sizeof chain[0];
         p = p->parent)
        chain[depth++] = p;
    /* Each segment is at most a quoted key of about 60 bytes. */
    char full[(MANIFEST__TREE_DEPTH + 3) * 72];
    size_t starts[MANIFEST__TREE_DEPTH + 4], nstarts = 0;
    strbuf b = {full, sizeof full, 0};
    full[0] = '\0';
    while (depth > 0) {
        starts[nstarts++] = b.len;
        put_segment(&b, chain[--depth]);
    }
    if (field != NULL) {
        starts[nstarts++] = b.len;
        put_key(&b, field, strlen(field));
    }
    if (b.len == 0)
        puts_(&b, "manifest");

    size_t keep_head = 40, keep_tail = 76;
    if (b.len < size && b.len <= keep_head + keep_tail + 3) {
        memcpy(out, full, b.len + 1);
        return;
    }
    /* The head ends where a segment starts, the tail starts where one
     * does; a segment too long for either is cut between characters. */
    size_t head = 0, tail = b.len;
    for (size_t i = 0; i < nstarts; i++) {
        if (starts[i] <= keep_head)
            head = starts[i];
        if (starts[i] >= b.len - keep_tail && starts[i] < tail)
            tail = starts[i];
    }
    if (head == 0) {
        head = keep_head;
        while (head > 0 && ((unsigned char)full[head] & 0xc0) == 0x80)
            head--;
    }
    if (tail == b.len) {
        tail = b.len - keep_tail;
        while (tail < b.len && ((unsigned char)full[tail] & 0xc0) == 0x80)
            tail++;
    }
    snprintf(out, size, "%.*s...%s", (int)head, full, full + tail);
}

shoal_err manifest__fail(manifest__ctx *c, const ynode *n, const char *field,
                         const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char path[128];
    path_of(n, field, path, sizeof path);
    return shoal_errinfo_set(c->ei, SHOAL_EMANIFEST, n->offset,
                             "%s:%zu:%zu: %s: %s", c->file, n->line + 1,
                             n->column + 1, path, what);
}

shoal_err manifest__nomem(manifest__ctx *c)
{
    return shoal_errinfo_set(c->ei, SHOAL_ENOMEM, SIZE_MAX, "%s: out of memory",
                             c->file);
}

/* A message about the document at a place no node stands for. */
static shoal_err fail_at(manifest__ctx *c, size_t line, size_t column,
                         size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static shoal_err fail_at(manifest__ctx *c, size_t line, size_t column,
                         size_t offset, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return shoal_errinfo_set(c->ei, SHOAL_EMANIFEST, offset, "%s:%zu:%zu: %s",
                             c->file, line + 1, column + 1, what);
}

/* libyaml's complaint: its problem, and its context when it has one. */
static shoal_err yaml_failure(manifest__ctx *c, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return manifest__nomem(c);
    const char *problem = p->problem != NULL ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        /* The reader counts bytes of what it was given. */
        size_t off = c->bom + p->problem_offset, line, column;
        line_column(c, off, &line, &column);
        if (p->problem_value != -1)
            return fail_at(c, line, column, off, "%s (#%X)", problem,
                           (unsigned)p->problem_value);
        return fail_at(c, line, column, off, "%s", problem);
    }
    place at = place_of(c, &p->problem_mark);
    if (p->context != NULL) {
        place ctx = place_of(c, &p->context_mark);
        return fail_at(c, at.line, at.column, at.offset,
                       "%s (%s at line %zu, column %zu)", problem, p->context,
                       ctx.line + 1, ctx.column + 1);
    }
    return fail_at(c, at.line, at.column, at.offset, "%s", problem);
}

/* ---- building the tree ---- */

static char *arena_strndup(manifest__arena *a, const char *s, size_t len)
{
    char *d = manifest__alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    if (len > 0)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* A new node at the event's start, hung in open (the innermost open
 * collection) or, when open is NULL, as the root. */
static ynode *new_node(manifest__ctx *c, ynode_kind kind,
                       const yaml_event_t *ev, ynode *open)
{
    ynode *n = manifest__alloc(&c->arena, sizeof *n);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    place at = place_of(c, &ev->start_mark);
    n->line = at.line;
    n->column = at.column;
    n->offset = at.offset;
    if (open == NULL)
        return n;
    n->parent = open;
    if (open->kind == YNODE_SEQ) {
        n->index = open->count;
    } else {
        n->index = open->count / 2;
        n->key = open->count % 2 == 0 ? n : open->last;
    }
    if (open->last != NULL)
        open->last->next = n;
    else
        open->first = n;
    open->last = n;
    open->count++;
    return n;
}

static bool set_tag(manifest__ctx *c, ynode *n, const yaml_char_t *tag)
{
    if (tag == NULL)
        return true;
    n->tag =
        arena_strndup(&c->arena, (const char *)tag, strlen((const char *)tag));
    return n->tag != NULL;
}

/* What one event does to the tree. *open is the innermost open collection,
 * *depth how many are open. */
static shoal_err take_event(manifest__ctx *c, const yaml_event_t *ev,
                            ynode **root, ynode **open, size_t *depth)
{
    ynode *n;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (*root != NULL) {
            place at = place_of(c, &ev->start_mark);
            return fail_at(c, at.line, at.column, at.offset,
                           "a second YAML document; a manifest holds one "
                           "application");
        }
        return SHOAL_OK;
    case YAML_ALIAS_EVENT:
        n = new_node(c, YNODE_SCALAR, ev, *open);
        if (n == NULL)
            return manifest__nomem(c);
        if (*root == NULL)
            *root = n;
        return manifest__fail(c, n, NULL,
                              "YAML aliases (*%s) are not supported",
                              (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        n = new_node(c, YNODE_SCALAR, ev, *open);
        if (n == NULL || !set_tag(c, n, ev->data.scalar.tag))
            return manifest__nomem(c);
        n->text = arena_strndup(&c->arena, (const char *)ev->data.scalar.value,
                                ev->data.scalar.length);
        if (n->text == NULL)
            return manifest__nomem(c);
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (*root == NULL)
            *root = n;
        return SHOAL_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        n = new_node(c, seq ? YNODE_SEQ : YNODE_MAP, ev, *open);
        if (n == NULL || !set_tag(c, n,
                                  seq ? ev->data.sequence_start.tag
                                      : ev->data.mapping_start.tag))
            return manifest__nomem(c);
        if (*root == NULL)
            *root = n;
        if (*depth == MANIFEST__TREE_DEPTH)
            return manifest__fail(c, n, NULL, "nested deeper than %d levels",
                                  MANIFEST__TREE_DEPTH);
        *open = n;
        (*depth)++;
        return SHOAL_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        *open = (*open)->parent;
        (*depth)--;
        return SHOAL_OK;
    default: /* stream start and end, document end */
        return SHOAL_OK;
    }
}

shoal_err manifest__load(manifest__ctx *c, const ynode **out)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return manifest__nomem(c);
    yaml_parser_set_input_string(&p, (const unsigned char *)c->text + c->bom,
                                 c->len - c->bom);
    /* UTF-8 only: libyaml would otherwise read UTF-16 too, and the byte
     * offsets of its marks would be offsets into its conversion. */
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);

    ynode *root = NULL, *open = NULL;
    size_t depth = 0;
    shoal_err err = SHOAL_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            err = yaml_failure(c, &p);
            break;
        }
        err = take_event(c, &ev, &root, &open, &depth);
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (err != SHOAL_OK || end)
            break;
    }
    yaml_parser_delete(&p);
    if (err != SHOAL_OK)
        return err;
    /* No document, or one of nothing (a lone "---"). */
    if (root == NULL || (root->kind == YNODE_SCALAR && root->tag == NULL &&
                         root->plain && root->len == 0))
        return fail_at(c, 0, 0, 0, "the manifest is empty");
    *out = root;
    return SHOAL_OK;
}
