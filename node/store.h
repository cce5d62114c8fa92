/* The node's durable state: one SQLite database (WAL mode) in the data
 * directory, holding the content-addressed module store, the applications
 * (their manifests and canonical specs, versioned) and the node's identity.
 *
 * Used from the node's loop thread only. Every write is one transaction,
 * durable when the call returns (synchronous=FULL). */
#ifndef SHOAL_NODE_STORE_H
#define SHOAL_NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

typedef struct node_store node_store;

/* Opens (creating if needed) DIR/state.db and brings its schema up to
 * date. Errors: SHOAL_EIO with the path and SQLite's message in ei. */
shoal_err store_open(const char *dir, node_store **out, shoal_errinfo *ei);
void store_close(node_store *st);

/* The node's name: made once (from the host name and a random suffix),
 * then kept. Valid until store_close. */
const char *store_node_name(node_store *st);
/* The node's id in actor ids (1..0x7fff), made once at random. */
uint16_t store_node_id(node_store *st);

/* Stores a module under its sha256 (hash, 64 hex digits). Storing one
 * that is there already changes nothing. */
shoal_err store_module_put(node_store *st, const char *hash,
                           const uint8_t *bytes, size_t len);
bool store_module_has(node_store *st, const char *hash);
/* On SHOAL_OK *bytes is the caller's (free()). SHOAL_ENOTFOUND. */
shoal_err store_module_get(node_store *st, const char *hash, uint8_t **bytes,
                           size_t *len);
/* Deletes modules that no application references and that were stored
 * more than grace_ms ago (a module just uploaded for an apply on its way
 * is kept). referenced(hash) says whether one is in use. */
shoal_err store_module_gc(node_store *st, int64_t grace_ms,
                          bool (*referenced)(void *ctx, const char *hash),
                          void *ctx, unsigned *deleted);

typedef struct store_app {
    char *name;
    int64_t version;
    char *manifest; /* the YAML text as applied */
    char *file;     /* its file name as given */
    uint8_t *spec;  /* canonical spec (manifest_encode) */
    size_t spec_len;
    int64_t updated_ms; /* Unix epoch */
    char *origin;       /* the node that made this version ("" before
                         * clusters) */
    bool deleted;       /* a tombstone: the application was deleted at this
                         * version (manifest and spec are empty) */
} store_app;

/* Inserts or replaces the application named app->name (or its
 * tombstone). */
shoal_err store_app_put(node_store *st, const store_app *app);
/* SHOAL_ENOTFOUND. On SHOAL_OK free *out with store_app_clear. */
shoal_err store_app_get(node_store *st, const char *name, store_app *out);
/* All applications by name, tombstones included; free with
 * store_app_list_free. */
shoal_err store_app_list(node_store *st, store_app **out, size_t *n);
void store_app_list_free(store_app *apps, size_t n);
/* SHOAL_ENOTFOUND if there was none. */
shoal_err store_app_delete(node_store *st, const char *name);
void store_app_clear(store_app *app);

/* Runs a WAL checkpoint (at shutdown). */
void store_checkpoint(node_store *st);

#endif
