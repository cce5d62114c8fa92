/* Tests of place.c: determinism and independence of the nodes' order, label
 * constraints, the spread cap, weights, and how few replicas move when a
 * node goes or comes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "scheduler.h"

#define MAX_NODES 64
#define MAX_REPLICAS 64

/* Nodes named "node-<i>" of weight 1 and no labels. */
typedef struct cluster {
    place_node nodes[MAX_NODES];
    char names[MAX_NODES][16];
    size_t n;
} cluster;

static void cluster_init(cluster *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(c->names[i], sizeof c->names[i], "node-%zu", i);
        c->nodes[i] = (place_node){.name = c->names[i], .weight = 1};
    }
}

/* Places g and returns each replica's node name (NULL: unplaced). */
static void place_names(const place_node *nodes, size_t n, const place_group *g,
                        const char **names)
{
    int32_t out[MAX_REPLICAS];
    assert_int_equal(place_assign(nodes, n, g, out), SHOAL_OK);
    for (uint32_t r = 0; r < g->replicas; r++) {
        assert_true(out[r] >= -1 && out[r] < (int32_t)n);
        names[r] = out[r] < 0 ? NULL : nodes[out[r]].name;
    }
}

static size_t moved(const char **a, const char **b, uint32_t replicas)
{
    size_t m = 0;
    for (uint32_t r = 0; r < replicas; r++)
        m += a[r] == NULL || b[r] == NULL || strcmp(a[r], b[r]) != 0;
    return m;
}

static void determinism_and_order(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 7);
    c.nodes[2].weight = 4;
    place_group g = {.key = "shop/cart", .replicas = 9, .spread = true};
    const char *a[MAX_REPLICAS], *b[MAX_REPLICAS], *r[MAX_REPLICAS];
    place_names(c.nodes, c.n, &g, a);
    place_names(c.nodes, c.n, &g, b);
    assert_int_equal(moved(a, b, g.replicas), 0);

    /* Reversed, and rotated: the same node for every replica. */
    place_node rev[MAX_NODES], rot[MAX_NODES];
    for (size_t i = 0; i < c.n; i++) {
        rev[i] = c.nodes[c.n - 1 - i];
        rot[i] = c.nodes[(i + 3) % c.n];
    }
    place_names(rev, c.n, &g, r);
    assert_int_equal(moved(a, r, g.replicas), 0);
    place_names(rot, c.n, &g, r);
    assert_int_equal(moved(a, r, g.replicas), 0);

    /* Another key places differently (with overwhelming likelihood). */
    place_group h = g;
    h.key = "shop/order";
    h.spread = false;
    place_group h2 = h;
    h2.key = "shop/payment";
    place_names(c.nodes, c.n, &h, a);
    place_names(c.nodes, c.n, &h2, b);
    assert_true(moved(a, b, g.replicas) > 0);
}

static void labels(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 6);
    place_label eu = {"zone", "eu"}, us = {"zone", "us"}, gpu = {"gpu", "yes"};
    place_label eu_gpu[2] = {eu, gpu};
    c.nodes[0].labels = &eu;
    c.nodes[0].nlabels = 1;
    c.nodes[1].labels = &us;
    c.nodes[1].nlabels = 1;
    c.nodes[2].labels = eu_gpu;
    c.nodes[2].nlabels = 2;
    c.nodes[3].labels = &eu;
    c.nodes[3].nlabels = 1;

    place_group g = {
        .key = "ml/train", .replicas = 8, .require = &eu, .nrequire = 1};
    int32_t out[MAX_REPLICAS];
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
    for (uint32_t r = 0; r < g.replicas; r++)
        assert_true(out[r] == 0 || out[r] == 2 || out[r] == 3);

    place_label need[2] = {gpu, eu};
    g.require = need;
    g.nrequire = 2;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
    for (uint32_t r = 0; r < g.replicas; r++)
        assert_int_equal(out[r], 2);

    /* A value must match too; nothing qualifies: every replica -1. */
    place_label asia = {"zone", "asia"};
    g.require = &asia;
    g.nrequire = 1;
    g.spread = true;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
    for (uint32_t r = 0; r < g.replicas; r++)
        assert_int_equal(out[r], -1);
    /* No nodes at all. */
    assert_int_equal(place_assign(NULL, 0, &g, out), SHOAL_OK);
    assert_int_equal(out[0], -1);
}

static void count_per_node(const int32_t *out, uint32_t replicas,
                           unsigned *count)
{
    memset(count, 0, MAX_NODES * sizeof *count);
    for (uint32_t r = 0; r < replicas; r++) {
        assert_true(out[r] >= 0);
        count[out[r]]++;
    }
}

static void spread(void **state)
{
    (void)state;
    cluster c;
    unsigned count[MAX_NODES];
    int32_t out[MAX_REPLICAS];
    char key[32];
    for (int k = 0; k < 200; k++) {
        snprintf(key, sizeof key, "app/actor-%d", k);
        place_group g = {.key = key, .replicas = 3, .spread = true};
        cluster_init(&c, 3);
        assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
        count_per_node(out, g.replicas, count);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(count[i], 1);

        g.replicas = 5;
        cluster_init(&c, 2);
        assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
        count_per_node(out, g.replicas, count);
        assert_true((count[0] == 3 && count[1] == 2) ||
                    (count[0] == 2 && count[1] == 3));

        /* Weighted caps: 6 replicas over weights 2, 1, 1 -> 3, 2, 2 at most
         * (ceil(6 * w / 4)). */
        g.replicas = 6;
        cluster_init(&c, 3);
        c.nodes[0].weight = 2;
        assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
        count_per_node(out, g.replicas, count);
        assert_true(count[0] <= 3 && count[1] <= 2 && count[2] <= 2);

        /* Without spread nothing caps a node: all on one happens. */
        g.spread = false;
        g.replicas = 1;
        assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
    }
}

static void weights(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 3);
    c.nodes[2].weight = 3;
    unsigned count[3] = {0};
    int32_t out[1];
    char key[32];
    const int groups = 5000;
    for (int k = 0; k < groups; k++) {
        snprintf(key, sizeof key, "app/w-%d", k);
        place_group g = {.key = key, .replicas = 1};
        assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
        count[out[0]]++;
    }
    /* Expected 1000, 1000 and 3000. */
    double light = (count[0] + count[1]) / 2.0;
    double ratio = count[2] / light;
    printf("weights 1, 1, 3 over %d groups: %u, %u, %u (ratio %.2f)\n", groups,
           count[0], count[1], count[2], ratio);
    assert_true(ratio > 2.7 && ratio < 3.3);
    assert_true(count[0] > 900 && count[0] < 1100);
}

/* Removing a node moves its replicas; for spread groups, the caps grow
 * with fewer nodes and a few replicas may follow. */
static void removal(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 6);
    char key[32];
    const char *before[MAX_REPLICAS], *after[MAX_REPLICAS];
    size_t others_moved = 0, replicas = 0, worst = 0;
    for (int k = 0; k < 1000; k++) {
        snprintf(key, sizeof key, "app/r-%d", k);
        for (int spread_cap = 0; spread_cap < 2; spread_cap++) {
            place_group g = {
                .key = key, .replicas = 4, .spread = spread_cap != 0};
            place_names(c.nodes, c.n, &g, before);
            size_t gone = (size_t)k % c.n;
            place_node less[MAX_NODES];
            size_t nless = 0;
            for (size_t i = 0; i < c.n; i++) {
                if (i != gone)
                    less[nless++] = c.nodes[i];
            }
            place_names(less, nless, &g, after);
            size_t others = 0;
            for (uint32_t r = 0; r < g.replicas; r++) {
                if (strcmp(before[r], c.names[gone]) == 0)
                    continue;
                others += strcmp(before[r], after[r]) != 0;
            }
            if (!g.spread) {
                assert_int_equal(others, 0);
            } else {
                others_moved += others;
                replicas += g.replicas;
                worst = others > worst ? others : worst;
            }
        }
    }
    printf("removal, spread groups: %zu of %zu replicas not on the removed "
           "node moved (worst group %zu of 4)\n",
           others_moved, replicas, worst);
    /* With a cap of one replica per node (4 replicas, 6 nodes, then 5), a
     * replica that loses its node takes its next choice with room, and may
     * displace a replica scoring lower there, which takes its own next
     * choice. Few others move: 4% here. */
    assert_true(others_moved * 20 <= replicas);
}

/* Adding a fifth node to four: R = 12 replicas move about R / 5. */
static void addition(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 5);
    char key[32];
    const char *before[MAX_REPLICAS], *after[MAX_REPLICAS];
    size_t total = 0, worst = 0, over = 0;
    const int groups = 500;
    for (int k = 0; k < groups; k++) {
        snprintf(key, sizeof key, "app/a-%d", k);
        place_group g = {.key = key, .replicas = 12, .spread = true};
        place_names(c.nodes, 4, &g, before);
        place_names(c.nodes, 5, &g, after);
        size_t m = moved(before, after, g.replicas);
        total += m;
        worst = m > worst ? m : worst;
        over += m > 2 * 12 / 5;
        /* Spread holds: ceil(12 / 5) = 3 on each of the five. */
        for (size_t i = 0; i < 5; i++) {
            unsigned on = 0;
            for (uint32_t r = 0; r < g.replicas; r++)
                on += strcmp(after[r], c.names[i]) == 0;
            assert_true(on <= 3);
        }
    }
    double mean = (double)total / groups;
    printf("addition, 4 -> 5 nodes, R = 12: %.2f replicas moved on average "
           "(2.4 go to the new node), %zu at worst, more than 2R/5 in %zu of "
           "%d groups\n",
           mean, worst, over, groups);
    /* Four nodes hold twelve replicas at exactly their cap of three, so many
     * sit on a second choice; with the fifth node's slots some of those go
     * back to a better one: the moves beyond 2.4. 11% of groups move more
     * than 2R/5, none more than 7. */
    assert_true(mean <= 2.0 * 12 / 5);
    assert_true(over * 6 <= (size_t)groups);
    assert_true(worst <= 8);
}

static void errors(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, 3);
    int32_t out[4] = {7, 7, 7, 7};
    place_group g = {.key = "a/b", .replicas = 2};
    assert_int_equal(place_assign(c.nodes, c.n, NULL, out), SHOAL_EINVAL);
    assert_int_equal(place_assign(c.nodes, c.n, &g, NULL), SHOAL_EINVAL);
    assert_int_equal(place_assign(NULL, 2, &g, out), SHOAL_EINVAL);
    g.key = NULL;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    g.key = "a/b";
    g.replicas = PLACE_REPLICAS_MAX + 1;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    g.replicas = 2;
    c.nodes[1].weight = 0;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    c.nodes[1].weight = 1;
    c.nodes[1].name = c.names[2]; /* two nodes of one name */
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    c.nodes[1].name = NULL;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    c.nodes[1].name = c.names[1];
    place_label bad = {"zone", NULL};
    c.nodes[0].labels = &bad;
    c.nodes[0].nlabels = 1;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    c.nodes[0].nlabels = 0;
    g.require = &bad;
    g.nrequire = 1;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_EINVAL);
    /* On error out is left alone. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], 7);
    g.require = NULL;
    g.nrequire = 0;
    /* Too much work for a spread group. */
    g.spread = true;
    g.replicas = PLACE_REPLICAS_MAX;
    cluster_init(&c, PLACE_SPREAD_PAIRS_MAX / PLACE_REPLICAS_MAX + 1);
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_ELIMIT);
    g.spread = false;
    g.replicas = 0;
    assert_int_equal(place_assign(c.nodes, c.n, &g, out), SHOAL_OK);
    assert_int_equal(out[0], 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(determinism_and_order),
        cmocka_unit_test(labels),
        cmocka_unit_test(spread),
        cmocka_unit_test(weights),
        cmocka_unit_test(removal),
        cmocka_unit_test(addition),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
