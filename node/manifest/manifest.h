/* Application manifests (docs/manifest.md): YAML documents of kind
 * Application, read with libyaml into a manifest_app.
 *
 * A manifest is checked completely: unknown fields are rejected, sizes and
 * counts accept units ("1MiB", "10M"), and an error names the file, line,
 * column and field. shoalctl parses a manifest to find the modules it must
 * upload; shoald parses it again and is the authority. */
#ifndef SHOAL_MANIFEST_H
#define SHOAL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

/* Limits of docs/manifest.md. */
#define MANIFEST_MAX_SIZE (1u << 20)       /* bytes of YAML */
#define MANIFEST_MAX_DEPTH 64              /* nesting of an init or config value */
#define MANIFEST_MAX_REPLICAS 10000u
#define MANIFEST_MEMORY_UNIT (64u << 10)   /* memory is rounded up to this */
#define MANIFEST_MAX_MEMORY (4ull << 30)
#define MANIFEST_MAX_MAILBOX 1000000u

typedef enum manifest_restart {
    MANIFEST_RESTART_ALWAYS = 0, /* the default */
    MANIFEST_RESTART_ON_FAILURE,
    MANIFEST_RESTART_NEVER,
} manifest_restart;

typedef struct manifest_label {
    char *key;
    char *value;
} manifest_label;

typedef struct manifest_link {
    char *provider;  /* contract short name: "http-server", "kv", ... */
    uint8_t *config; /* its config map as msgpack (an empty map if none) */
    size_t config_len;
    uint32_t line;   /* where the link starts, 1-based */
} manifest_link;

typedef struct manifest_actor {
    char *name;         /* [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63 */
    char *module;       /* the path as written (relative to the manifest);
                         * "" in an app from manifest_decode when the hash
                         * was filled (see manifest_encode) */
    char module_hash[65]; /* sha256 hex; empty until someone fills it */
    uint32_t replicas;  /* default 1; 0 is allowed (scaled to nothing) */
    uint64_t memory;    /* bytes, a multiple of 64 KiB; 0: node default */
    uint64_t fuel_per_message; /* 0: node default */
    uint32_t mailbox;   /* messages; 0: node default */
    manifest_restart restart;
    uint8_t *init;      /* msgpack of the `init` value, or NULL */
    size_t init_len;
    bool spread;        /* placement.spread (default true) */
    manifest_label *labels; /* placement.labels, in manifest order */
    size_t nlabels;
    manifest_link *links;
    size_t nlinks;
    uint32_t line;      /* where the actor starts, 1-based */
} manifest_actor;

typedef struct manifest_app {
    char *name; /* metadata.name, same rule as actor names */
    manifest_actor *actors;
    size_t nactors;
} manifest_app;

/* Parses one manifest. file is the name used in messages. On SHOAL_OK the
 * caller owns *out (manifest_free). Errors: SHOAL_EMANIFEST with ei->msg
 * "FILE:LINE:COL: FIELD: what is wrong" (FIELD a path such as
 * spec.actors[1].limits.memory) and ei->offset the byte offset; SHOAL_ENOMEM. */
shoal_err manifest_parse(const char *text, size_t len, const char *file,
                         manifest_app **out, shoal_errinfo *ei);
void manifest_free(manifest_app *app);

/* The canonical encoding of an app (msgpack; modules by hash, not path):
 * two apps that mean the same encode to the same bytes. An actor's module is
 * its module_hash; only while that is empty does the path stand for it, so
 * renaming a module file changes nothing once hashes are filled. Lines are
 * not encoded. On SHOAL_OK the caller frees *out with free(). Errors:
 * SHOAL_EINVAL (a NULL argument), SHOAL_ENOMEM. */
shoal_err manifest_encode(const manifest_app *app, uint8_t **out, size_t *len);
/* Reads what manifest_encode wrote, checking everything manifest_parse
 * checks; lines are 0. On SHOAL_OK the caller owns *out (manifest_free).
 * Errors: SHOAL_EMALFORMED (ei: byte offset and reason), SHOAL_ENOMEM. */
shoal_err manifest_decode(const uint8_t *bytes, size_t len, manifest_app **out,
                          shoal_errinfo *ei);

/* Whether two actors run the same way: everything but replicas and line
 * is equal (module by hash, or by path while both hashes are empty; labels
 * and links in order). A change here means a rolling update. */
bool manifest_actor_same_template(const manifest_actor *a,
                                  const manifest_actor *b);

/* The actor named name, or NULL. */
manifest_actor *manifest_find_actor(const manifest_app *app, const char *name);

/* Parses a size such as "64KiB", "1MiB", "2GiB", "1MB", "4096" into bytes.
 * Errors: SHOAL_EINVAL (not a size), SHOAL_ELIMIT (overflow). */
shoal_err manifest_parse_size(const char *s, uint64_t *bytes);
/* Parses a count such as "10000000", "10M", "5k", "1G" (decimal units). */
shoal_err manifest_parse_count(const char *s, uint64_t *n);

#endif
