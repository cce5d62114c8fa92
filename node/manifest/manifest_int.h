/* Internals of the manifest module, shared by its files:
 *
 *   tree.c      libyaml's events -> a tree of ynodes; positions and errors
 *   value.c     YAML scalars typed by the core schema; values -> msgpack
 *   manifest.c  the Application schema over the tree -> a manifest_app
 *   codec.c     the canonical msgpack form of an app, and back
 *
 * A parse owns one manifest__ctx. Every ynode and every string of the tree
 * lives in the context's arena and goes with it at once.
 */
#ifndef SHOAL_MANIFEST_INT_H
#define SHOAL_MANIFEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "manifest.h"

/* Collections nest at most this deep in a document. Actors' init and
 * config values start at most 7 levels down, so MANIFEST_MAX_DEPTH inside
 * them is reached, and reported with its own message, first. The bound keeps
 * a hostile document from building a tree as deep as it is long. */
#define MANIFEST__TREE_DEPTH 80

typedef struct manifest__chunk manifest__chunk;

typedef struct manifest__arena {
    manifest__chunk *chunks;
} manifest__arena;

/* Memory for n bytes, aligned for any type, or NULL. */
void *manifest__alloc(manifest__arena *a, size_t n);
void manifest__arena_free(manifest__arena *a);

typedef enum ynode_kind {
    YNODE_SCALAR,
    YNODE_SEQ,
    YNODE_MAP,
} ynode_kind;

typedef struct ynode ynode;
struct ynode {
    ynode_kind kind;
    size_t line, column; /* 0-based, as libyaml counts (characters) */
    size_t offset;       /* byte offset in the input */
    ynode *parent;       /* NULL for the document's root */
    ynode *next;         /* the next item of the parent */
    /* In a map, the key of the entry this node belongs to (a key names
     * itself); NULL in a sequence and for the root. */
    const ynode *key;
    size_t index;    /* position in a sequence; entry number in a map */
    const char *tag; /* the explicit tag as libyaml resolved it, or NULL */
    /* Scalars: the text (NUL-terminated; it may hold NULs of its own from
     * "\0" escapes), and whether it was written plain, unquoted. */
    const char *text;
    size_t len;
    bool plain;
    /* Collections: the items. A map's alternate key, value; count counts
     * them all, so a map of n entries has count 2n. */
    ynode *first, *last;
    size_t count;
};

typedef struct manifest__ctx {
    const char *file; /* for messages */
    const char *text; /* the whole input */
    size_t len;
    size_t bom; /* bytes of a UTF-8 byte order mark not given to libyaml */
    shoal_errinfo *ei;
    manifest__arena arena;
    /* A character index of libyaml's and its byte offset, so that turning
     * the (increasing) marks of a parse into offsets takes one pass. */
    size_t conv_chars, conv_bytes;
} manifest__ctx;

/* tree.c */

/* Reads the one YAML document of c->text into *root. Errors, with the
 * message in c->ei: SHOAL_EMANIFEST for bad YAML, no document or a second
 * one, an alias, nesting over MANIFEST__TREE_DEPTH; SHOAL_ENOMEM. */
shoal_err manifest__load(manifest__ctx *c, const ynode **root);

/* Fills c->ei with "FILE:LINE:COL: FIELD: what" at node n, FIELD being n's
 * path with field appended when not NULL, and returns SHOAL_EMANIFEST. */
shoal_err manifest__fail(manifest__ctx *c, const ynode *n, const char *field,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fills c->ei for an allocation failure and returns SHOAL_ENOMEM. */
shoal_err manifest__nomem(manifest__ctx *c);

/* Writes s[0..len) into buf in double quotes, escaped, and cut to about 40
 * bytes with "..." after: the "got" of a message. */
void manifest__quote(char *buf, size_t size, const char *s, size_t len);
/* What n is, for "got ...": a quoted scalar, "null", "a list", "a map". */
void manifest__describe(const ynode *n, char *buf, size_t size);

/* value.c */

typedef enum yscalar_kind {
    YSCALAR_NULL,
    YSCALAR_BOOL,
    YSCALAR_INT,
    YSCALAR_FLOAT,
    YSCALAR_STR,
} yscalar_kind;

typedef struct yscalar {
    yscalar_kind kind;
    bool b;
    bool negative; /* an INT below zero is in i, any other in u */
    uint64_t u;
    int64_t i;
    double d;
} yscalar;

/* Types the scalar n by its tag, or by the YAML 1.2 core schema when it is
 * plain and untagged; any other untagged scalar is a string. Errors
 * (SHOAL_EMANIFEST): an unknown tag, a text its tag does not allow, an
 * integer or float out of range. */
shoal_err manifest__scalar(manifest__ctx *c, const ynode *n, yscalar *out);
/* A tag for people: !!int rather than tag:yaml.org,2002:int. */
void manifest__tag_name(const char *tag, char *buf, size_t size);
/* Whether n is a scalar that manifest__scalar would call null. */
bool manifest__is_null(const ynode *n);

/* Encodes the YAML value n as msgpack into a malloc'ed *out (the caller
 * frees it). Scalars are typed by manifest__scalar; map entries are sorted
 * by their encoded keys, so that the order of a map does not change its
 * encoding. With string_keys every map key is a string, its text as
 * written. Errors: SHOAL_EMANIFEST (nesting over MANIFEST_MAX_DEPTH, a
 * duplicate key, a list or map as a key, a bad scalar), SHOAL_ENOMEM. */
shoal_err manifest__pack_value(manifest__ctx *c, const ynode *n,
                               bool string_keys, uint8_t **out, size_t *len);

/* manifest.c */

/* Whether s[0..len) follows the name rule of apps and actors. */
bool manifest__name_ok(const char *s, size_t len);
/* Whether s[0..len) is a placement label key, or a label value. */
bool manifest__label_key_ok(const char *s, size_t len);
bool manifest__label_value_ok(const char *s, size_t len);
/* A malloc'ed NUL-terminated copy of s[0..len), or NULL. */
char *manifest__strndup(const char *s, size_t len);

#endif
