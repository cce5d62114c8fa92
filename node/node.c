/* shoald's life cycle: start the state, the runtime, the control server and
 * the applications; run the loop; shut down in order. See node.h. */
#include "node.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t node__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void node__post(node *n, node_event *ev)
{
    ev->next = NULL;
    pthread_mutex_lock(&n->events_lock);
    if (n->events_tail)
        n->events_tail->next = ev;
    else
        n->events_head = ev;
    n->events_tail = ev;
    pthread_mutex_unlock(&n->events_lock);
    uv_async_send(&n->wake);
}

static void run_events(node *n)
{
    for (;;) {
        pthread_mutex_lock(&n->events_lock);
        node_event *ev = n->events_head;
        n->events_head = n->events_tail = NULL;
        pthread_mutex_unlock(&n->events_lock);
        if (ev == NULL)
            return;
        while (ev) {
            node_event *next = ev->next;
            ev->run(n, ev);
            ev = next;
        }
    }
}

static void on_wake(uv_async_t *h)
{
    run_events(h->data);
}

static void on_tick(uv_timer_t *t)
{
    node *n = t->data;
    if (!n->stopping)
        apps_reconcile(n);
}

/* Shutting down: handlers under way finish while the loop still runs,
 * so that their replies (HTTP responses, control replies) go out. */
static void on_drain_tick(uv_timer_t *t)
{
    node *n = t->data;
    bool done = actor_runtime_drain(n->rt, 0) == SHOAL_OK;
    if (!done && node__now_ms() < n->drain_deadline_ms)
        return;
    if (!done)
        node_log(n, LOG_WARN, "node", NULL,
                 "handlers still running after %lld ms; stopping them",
                 (long long)n->opt.shutdown_ms);
    uv_timer_stop(t);
    uv_stop(&n->loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    node *n = s->data;
    if (n->stopping)
        return;
    node_log(n, LOG_INFO, "node", NULL, "%s: shutting down",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    n->stopping = true;
    control_stop(n);
    providers_quiesce(n);
    cluster_leave(n);
    n->drain_deadline_ms = node__now_ms() + n->opt.shutdown_ms;
    uv_timer_init(&n->loop, &n->drain_timer);
    n->drain_timer.data = n;
    uv_timer_start(&n->drain_timer, on_drain_tick, 0, 5);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* After the drain (on_signal): the HTTP server closes and the kv thread
 * stops; actors stop; the replies still owed go out; the state is
 * checkpointed. */
static void shut_down(node *n)
{
    control_stop(n);
    providers_stop(n);
    if (n->rt)
        external_stop(n);
    cluster_close_input(n);
    if (n->rt) {
        actor_runtime_delete(n->rt);
        n->rt = NULL;
    }
    run_events(n);
    ops_free(n);
    cluster_free(n);
    control_free(n);
    providers_free(n);
    apps_free(n);
    if (n->store) {
        store_checkpoint(n->store);
        store_close(n->store);
        n->store = NULL;
    }
}

int node_run(const node_options *opt)
{
    node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return 1;
    n->opt = *opt;
    n->exit_code = 0;
    pthread_mutex_init(&n->events_lock, NULL);
    pthread_rwlock_init(&n->dir_lock, NULL);
    shoal_errinfo ei = {0};
    shoal_err err;

    uv_loop_init(&n->loop);
    uv_async_init(&n->loop, &n->wake, on_wake);
    n->wake.data = n;

    err = logbook_new(&n->logs);
    if (err)
        goto fail;
    err = store_open(opt->data_dir, &n->store, &ei);
    if (err) {
        node_log(n, LOG_ERROR, "store", NULL, "%s", ei.msg);
        goto fail;
    }
    actor_config cfg = {
        .node_id = store_node_id(n->store),
        .workers = opt->workers,
        .fuel_slice = opt->fuel_slice,
        .log = logbook_actor_log,
        .on_exit = apps_on_exit,
        .resolve = providers_resolve,
        .remote = cluster_remote,
        .idle_poll = opt->cluster_listen ? cluster_idle_poll : NULL,
        .idle_wake = opt->cluster_listen ? cluster_idle_wake : NULL,
        .ctx = n,
    };
    err = actor_runtime_new(&cfg, &n->rt);
    if (err) {
        node_log(n, LOG_ERROR, "node", NULL, "starting the runtime: %s",
                 shoal_strerror(err));
        goto fail;
    }
    node_log(n, LOG_INFO, "node", NULL,
             "shoald %s: node %s (id %u), data directory %s", SHOAL_VERSION,
             store_node_name(n->store), store_node_id(n->store), opt->data_dir);
    err = providers_start(n, &ei);
    if (err) {
        node_log(n, LOG_ERROR, "providers", NULL, "%s", ei.msg);
        goto fail;
    }
    for (unsigned i = 0; i < opt->nproviders; i++) {
        err = external_add(n, opt->providers[i], &ei);
        if (err) {
            node_log(n, LOG_ERROR, "providers", NULL, "%s", ei.msg);
            goto fail;
        }
    }
    err = apps_recover(n, &ei);
    if (err) {
        node_log(n, LOG_ERROR, "apps", NULL, "recovering: %s", ei.msg);
        goto fail;
    }
    err = cluster_start(n, &ei);
    if (err) {
        node_log(n, LOG_ERROR, "cluster", NULL, "%s", ei.msg);
        goto fail;
    }
    err = control_start(n, &ei);
    if (err) {
        node_log(n, LOG_ERROR, "control", NULL, "%s", ei.msg);
        goto fail;
    }

    uv_signal_init(&n->loop, &n->sigterm);
    uv_signal_init(&n->loop, &n->sigint);
    n->sigterm.data = n->sigint.data = n;
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, 100, 100);
    apps_reconcile(n);

    uv_run(&n->loop, UV_RUN_DEFAULT);
    goto done;

fail:
    n->exit_code = 1;
done:
    shut_down(n);
    uv_walk(&n->loop, close_handle, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
    external_free(n); /* its handles are closed now */
    logbook_delete(n->logs);
    pthread_mutex_destroy(&n->events_lock);
    pthread_rwlock_destroy(&n->dir_lock);
    int code = n->exit_code;
    if (code == 0)
        node_log(n, LOG_INFO, "node", NULL, "stopped");
    free(n);
    return code;
}
