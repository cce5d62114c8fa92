/* Placement: weighted rendezvous (highest random weight) hashing with
 * bounded loads.
 *
 * Every (node, group key, replica index) gets a score from SHA-256 of the
 * three; replica i goes to its highest-scoring eligible node, or with the
 * spread cap to the best one with room (spread_assign says in which order
 * replicas take the room). The score is -weight / ln(u), u uniform in (0, 1)
 * from the hash: the largest of such scores falls on a node with probability
 * weight / total weight (the smallest of exponential variables of rates w_i),
 * so capacity is honoured without virtual nodes. A node's scores do not depend
 * on the other nodes, so removing a node moves only the replicas it held, and
 * adding one moves only the replicas it now outscores (about 1/n of them),
 * except where the spread cap pushes a replica to its next choice.
 */
#include "scheduler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

typedef struct by_name {
    const char *name;
    int32_t index;
} by_name;

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const by_name *)a)->name, ((const by_name *)b)->name);
}

static bool has_labels(const place_node *node, const place_group *g)
{
    for (size_t r = 0; r < g->nrequire; r++) {
        bool found = false;
        for (size_t l = 0; l < node->nlabels && !found; l++)
            found = strcmp(node->labels[l].key, g->require[r].key) == 0 &&
                    strcmp(node->labels[l].value, g->require[r].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

static bool valid_labels(const place_label *labels, size_t n)
{
    if (labels == NULL && n > 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (labels[i].key == NULL || labels[i].value == NULL)
            return false;
    }
    return true;
}

/* The node's score for one replica; buf holds name, NUL, key, NUL already,
 * and the replica index goes into its last 4 bytes. */
static double score(uint8_t *buf, size_t len, uint32_t replica, uint32_t weight)
{
    buf[len - 4] = (uint8_t)(replica >> 24);
    buf[len - 3] = (uint8_t)(replica >> 16);
    buf[len - 2] = (uint8_t)(replica >> 8);
    buf[len - 1] = (uint8_t)replica;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | md[i];
    /* 53 bits, centred: strictly inside (0, 1), so ln(u) < 0. */
    double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;
    return -(double)weight / log(u);
}

/* The score of node for replica r of key; buf has room for the node's name,
 * the key and 6 bytes more. */
static double node_score(const place_node *node, const char *key, uint8_t *buf,
                         uint32_t r)
{
    size_t namelen = strlen(node->name), keylen = strlen(key);
    memcpy(buf, node->name, namelen + 1);
    memcpy(buf + namelen + 1, key, keylen + 1);
    return score(buf, namelen + 1 + keylen + 1 + 4, r, node->weight);
}

/* Without a cap, each replica goes to its highest-scoring node. */
static int32_t best_node(const place_node *nodes, const by_name *eligible,
                         size_t n, const char *key, uint8_t *buf, uint32_t r)
{
    int32_t best = -1;
    double best_score = 0;
    for (size_t e = 0; e < n; e++) {
        double s = node_score(&nodes[eligible[e].index], key, buf, r);
        /* Strictly greater: among equal scores the first name wins. */
        if (best < 0 || s > best_score) {
            best = eligible[e].index;
            best_score = s;
        }
    }
    return best;
}

typedef struct pair {
    double score;
    uint32_t replica;
    uint32_t node; /* into the eligible nodes, sorted by name */
} pair;

static int by_score(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->replica != b->replica)
        return a->replica < b->replica ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* With the spread cap, (replica, node) pairs are taken best score first:
 * a replica gets the best node that has room once every replica scoring
 * higher there has been seated. This is the one stable matching of
 * replicas to node slots, so a replica moves only when its node goes, when
 * a better-scoring replica takes its slot, or when a better node gains
 * room; placing replicas in index order instead lets every change to an
 * early replica ripple through the later ones. */
static shoal_err spread_assign(const place_node *nodes, const by_name *eligible,
                               size_t n, uint64_t total, const place_group *g,
                               uint8_t *buf, int32_t *out)
{
    uint64_t npairs = (uint64_t)g->replicas * n;
    if (npairs > PLACE_SPREAD_PAIRS_MAX)
        return SHOAL_ELIMIT;
    pair *pairs = malloc((size_t)npairs * sizeof *pairs);
    uint32_t *room = malloc(n * sizeof *room);
    int32_t *seat = malloc((size_t)g->replicas * sizeof *seat);
    if (pairs == NULL || room == NULL || seat == NULL) {
        free(pairs);
        free(room);
        free(seat);
        return SHOAL_ENOMEM;
    }
    size_t k = 0;
    for (size_t e = 0; e < n; e++) {
        const place_node *node = &nodes[eligible[e].index];
        room[e] =
            (uint32_t)(((uint64_t)g->replicas * node->weight + total - 1) /
                       total);
        for (uint32_t r = 0; r < g->replicas; r++)
            pairs[k++] =
                (pair){node_score(node, g->key, buf, r), r, (uint32_t)e};
    }
    qsort(pairs, k, sizeof *pairs, by_score);
    for (uint32_t r = 0; r < g->replicas; r++)
        seat[r] = -1;
    uint32_t seated = 0;
    for (size_t i = 0; i < k && seated < g->replicas; i++) {
        const pair *p = &pairs[i];
        if (seat[p->replica] >= 0 || room[p->node] == 0)
            continue;
        room[p->node]--;
        seat[p->replica] = eligible[p->node].index;
        seated++;
    }
    /* The caps add up to at least the replicas: everyone has a seat. */
    memcpy(out, seat, (size_t)g->replicas * sizeof *out);
    free(pairs);
    free(room);
    free(seat);
    return SHOAL_OK;
}

shoal_err place_assign(const place_node *nodes, size_t n, const place_group *g,
                       int32_t *out)
{
    if (g == NULL || out == NULL || g->key == NULL ||
        (nodes == NULL && n > 0) || g->replicas > PLACE_REPLICAS_MAX ||
        n > INT32_MAX || !valid_labels(g->require, g->nrequire))
        return SHOAL_EINVAL;
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].name == NULL || nodes[i].weight == 0 ||
            !valid_labels(nodes[i].labels, nodes[i].nlabels))
            return SHOAL_EINVAL;
        size_t len = strlen(nodes[i].name);
        if (len > longest)
            longest = len;
    }

    shoal_err err = SHOAL_ENOMEM;
    by_name *sorted = malloc((n > 0 ? n : 1) * sizeof *sorted);
    size_t keylen = strlen(g->key);
    uint8_t *buf = malloc(longest + keylen + 6);
    if (sorted == NULL || buf == NULL)
        goto out_free;

    /* By name: duplicates side by side, and ties broken by name, so that
     * the order of nodes does not matter. */
    for (size_t i = 0; i < n; i++)
        sorted[i] = (by_name){nodes[i].name, (int32_t)i};
    qsort(sorted, n, sizeof *sorted, compare_names);
    err = SHOAL_EINVAL;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            goto out_free;
    }

    size_t neligible = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const place_node *node = &nodes[sorted[i].index];
        if (has_labels(node, g)) {
            sorted[neligible++] = sorted[i];
            total += node->weight;
        }
    }

    if (!g->spread || neligible == 0) {
        for (uint32_t r = 0; r < g->replicas; r++)
            out[r] = best_node(nodes, sorted, neligible, g->key, buf, r);
    } else {
        err = spread_assign(nodes, sorted, neligible, total, g, buf, out);
        if (err != SHOAL_OK)
            goto out_free;
    }
    err = SHOAL_OK;

out_free:
    free(sorted);
    free(buf);
    return err;
}
