/* shoalctl apply: reads and checks a manifest, uploads the modules the node
 * lacks, applies the manifest and waits for the rollout. The node is not
 * contacted until the manifest and every module it names have been read. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "manifest.h"
#include "output.h"

#define ROLLOUT_POLL_MS 200
/* Room in a request for what surrounds a module's bytes. */
#define PUT_OVERHEAD 1024

/* A module the manifest names, once per path as written. */
typedef struct apply_module {
    const char *path; /* as written in the manifest (owned by the app) */
    const manifest_actor *actor; /* the first actor that names it */
    uint8_t *bytes;
    size_t len;
    char hash[65];
} apply_module;

typedef struct apply_state {
    const ctl_env *env;
    const ctl_apply_args *args;
    const char *name; /* the manifest's name in messages */
    char *text;       /* the manifest */
    size_t text_len;
    manifest_app *app;
    apply_module *modules;
    size_t nmodules;
    ctl_client *client;
} apply_state;

/* Reads a whole file, or stdin for "-", of at most max bytes. On success
 * the caller frees *out, which has a NUL after its *len bytes. false with
 * errno set otherwise (EFBIG when it is too large). */
static bool read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    int saved = 0;
    while (buf) {
        if (n == cap) {
            if (cap >= max) {
                saved = EFBIG;
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                saved = ENOMEM;
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                saved = errno ? errno : EIO;
            break;
        }
    }
    if (!buf)
        saved = ENOMEM;
    if (f != stdin)
        fclose(f);
    if (saved != 0 || !buf) {
        free(buf);
        errno = saved;
        return false;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return true;
}

/* "./counter.wasm" -> "counter.wasm", for messages. */
static const char *short_path(const char *path)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return path;
}

/* Reads every module once and hashes it. Paths are relative to the
 * directory of the manifest (the current directory for stdin). */
static int read_modules(apply_state *s)
{
    const ctl_env *env = s->env;
    size_t n = s->app->nactors;
    s->modules = calloc(n ? n : 1, sizeof *s->modules);
    if (!s->modules)
        return ctl_fail(env, "out of memory");

    char *file_copy = strdup(s->args->file);
    if (!file_copy)
        return ctl_fail(env, "out of memory");
    const char *dir =
        strcmp(s->args->file, "-") == 0 ? "." : dirname(file_copy);

    int status = CTL_EXIT_OK;
    for (size_t i = 0; i < s->app->nactors && status == CTL_EXIT_OK; i++) {
        const manifest_actor *a = &s->app->actors[i];
        bool seen = false;
        for (size_t m = 0; m < s->nmodules; m++)
            if (strcmp(s->modules[m].path, a->module) == 0)
                seen = true;
        if (seen)
            continue;
        char *full = NULL;
        if (a->module[0] == '/'
                ? asprintf(&full, "%s", a->module) < 0
                : asprintf(&full, "%s/%s", dir, a->module) < 0) {
            status = ctl_fail(env, "out of memory");
            break;
        }
        apply_module *mod = &s->modules[s->nmodules];
        char *bytes = NULL;
        if (!read_file(full, SHOAL_API_MAX_MSG - PUT_OVERHEAD, &bytes,
                       &mod->len)) {
            if (errno == EFBIG)
                status = ctl_fail(env,
                                  "%s:%" PRIu32 ": module %s of actor %s is "
                                  "larger than a request may be (64 MiB)",
                                  s->name, a->line, a->module, a->name);
            else
                status =
                    ctl_fail(env,
                             "%s:%" PRIu32 ": cannot read module %s of "
                             "actor %s: %s",
                             s->name, a->line, full, a->name, strerror(errno));
            free(full);
            break;
        }
        free(full);
        mod->path = a->module;
        mod->actor = a;
        mod->bytes = (uint8_t *)bytes;
        api_sha256_hex(mod->bytes, mod->len, mod->hash);
        s->nmodules++;
    }
    free(file_copy);
    return status;
}

static bool request(apply_state *s, api_writer *w, ctl_reply *reply)
{
    shoal_errinfo ei;
    shoal_err err = ctl_client_send(s->client, w, reply, &ei);
    api_writer_free(w);
    if (err != SHOAL_OK) {
        ctl_fail(s->env, "%s", ei.msg);
        return false;
    }
    return true;
}

static apply_module *module_by_hash(apply_state *s, const char *hash,
                                    size_t len)
{
    for (size_t m = 0; m < s->nmodules; m++)
        if (len == 64 && memcmp(s->modules[m].hash, hash, 64) == 0)
            return &s->modules[m];
    return NULL;
}

/* module.has with every hash, then module.put of those the node lacks. */
static int upload_modules(apply_state *s)
{
    const ctl_env *env = s->env;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "module.has", 1);
    api_pack_str(&w.pk, "hashes");
    size_t unique = 0;
    for (size_t m = 0; m < s->nmodules; m++)
        if (module_by_hash(s, s->modules[m].hash, 64) == &s->modules[m])
            unique++;
    msgpack_pack_array(&w.pk, unique);
    for (size_t m = 0; m < s->nmodules; m++)
        if (module_by_hash(s, s->modules[m].hash, 64) == &s->modules[m])
            api_pack_str(&w.pk, s->modules[m].hash);
    ctl_reply reply;
    if (!request(s, &w, &reply))
        return CTL_EXIT_FAIL;

    int status = CTL_EXIT_OK;
    const msgpack_object *missing = api_get(reply.root, "missing");
    uint32_t n = missing && missing->type == MSGPACK_OBJECT_ARRAY
                     ? missing->via.array.size
                     : 0;
    for (uint32_t i = 0; i < n && status == CTL_EXIT_OK; i++) {
        const msgpack_object *h = &missing->via.array.ptr[i];
        apply_module *mod =
            h->type == MSGPACK_OBJECT_STR
                ? module_by_hash(s, h->via.str.ptr, h->via.str.size)
                : NULL;
        if (!mod)
            continue; /* not one we asked about */
        api_writer_init(&w);
        api_pack_request(&w.pk, "module.put", 1);
        api_pack_kv_bin(&w.pk, "bytes", mod->bytes, mod->len);
        ctl_reply put;
        if (!request(s, &w, &put)) {
            status = CTL_EXIT_FAIL;
            break;
        }
        const char *stored = NULL;
        size_t stored_len = 0;
        if (!api_get_str(put.root, "hash", &stored, &stored_len) ||
            stored_len != 64 || memcmp(stored, mod->hash, 64) != 0) {
            status = ctl_fail(env,
                              "the node stored %s under another hash than "
                              "its sha256 %s",
                              short_path(mod->path), mod->hash);
        } else {
            char size[32];
            ctl_format_size(mod->len, size, sizeof size);
            fprintf(env->out, "uploaded %s (%s, sha256 %.8s\u2026)\n",
                    short_path(mod->path), size, mod->hash);
            fflush(env->out);
        }
        ctl_reply_free(&put);
    }
    ctl_reply_free(&reply);
    return status;
}

/* The apply request; prints what the node did to each actor. *version is
 * the application's version afterwards. */
static int send_apply(apply_state *s, int64_t *version)
{
    const ctl_env *env = s->env;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "apply", 3);
    api_pack_str(&w.pk, "manifest");
    api_pack_strn(&w.pk, s->text, s->text_len);
    api_pack_kv_str(&w.pk, "file", s->name);
    api_pack_str(&w.pk, "modules");
    msgpack_pack_map(&w.pk, s->nmodules);
    for (size_t m = 0; m < s->nmodules; m++)
        api_pack_kv_str(&w.pk, s->modules[m].path, s->modules[m].hash);
    ctl_reply reply;
    if (!request(s, &w, &reply))
        return CTL_EXIT_FAIL;

    const msgpack_object *actors = api_get(reply.root, "actors");
    uint32_t n = actors && actors->type == MSGPACK_OBJECT_ARRAY
                     ? actors->via.array.size
                     : 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &actors->via.array.ptr[i];
        const char *name = "?", *action = "?";
        size_t name_len = 1, action_len = 1;
        api_get_str(a, "name", &name, &name_len);
        api_get_str(a, "action", &action, &action_len);
        fprintf(env->out, "%s/%.*s %.*s\n", s->app->name, (int)name_len, name,
                (int)action_len, action);
    }
    bool changed = true;
    *version = 0;
    api_get_bool(reply.root, "changed", &changed);
    api_get_int(reply.root, "version", version);
    fprintf(env->out, "app %s %s (version %" PRId64 ")\n", s->app->name,
            changed ? "applied" : "unchanged", *version);
    fflush(env->out);
    ctl_reply_free(&reply);
    return CTL_EXIT_OK;
}

/* ---- Waiting for the rollout ---------------------------------------------
 */

typedef struct actor_progress {
    char name[64];
    int64_t ready, replicas, restarts;
} actor_progress;

typedef struct rollout_view {
    bool tty;             /* rewrite lines in place */
    size_t shown;         /* lines on screen (tty) */
    actor_progress *last; /* last counts printed (not a tty) */
    size_t nlast;
    size_t name_width;
} rollout_view;

static void progress_line(FILE *out, const char *app, const actor_progress *p,
                          int width)
{
    fprintf(out, "%s/%-*s  %" PRId64 "/%" PRId64 " ready", app, width, p->name,
            p->ready, p->replicas);
    if (p->restarts > 0)
        fprintf(out, ", %" PRId64 " restart%s", p->restarts,
                p->restarts == 1 ? "" : "s");
}

/* Reads the actors' counts from an app.get reply. */
static size_t read_progress(const msgpack_object *r, actor_progress *out,
                            size_t max)
{
    const msgpack_object *actors = api_get(r, "actors");
    uint32_t n = actors && actors->type == MSGPACK_OBJECT_ARRAY
                     ? actors->via.array.size
                     : 0;
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < max; i++) {
        const msgpack_object *a = &actors->via.array.ptr[i];
        actor_progress *p = &out[k++];
        const char *name = "?";
        size_t len = 1;
        api_get_str(a, "name", &name, &len);
        snprintf(p->name, sizeof p->name, "%.*s", (int)len, name);
        p->ready = p->replicas = p->restarts = 0;
        api_get_int(a, "ready", &p->ready);
        api_get_int(a, "replicas", &p->replicas);
        api_get_int(a, "restarts", &p->restarts);
    }
    return k;
}

static void show_progress(const ctl_env *env, rollout_view *v, const char *app,
                          const actor_progress *p, size_t n)
{
    FILE *out = env->out;
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(p[i].name) > width)
            width = (int)strlen(p[i].name);
    if (v->tty) {
        /* Back to the first line shown last time, then over it. */
        if (v->shown > 0)
            fprintf(out, "\033[%zuA\r\033[J", v->shown);
        for (size_t i = 0; i < n; i++) {
            progress_line(out, app, &p[i], width);
            fputc('\n', out);
        }
        v->shown = n;
    } else {
        for (size_t i = 0; i < n; i++) {
            bool same = i < v->nlast &&
                        strcmp(v->last[i].name, p[i].name) == 0 &&
                        v->last[i].ready == p[i].ready &&
                        v->last[i].replicas == p[i].replicas;
            if (same)
                continue;
            progress_line(out, app, &p[i], width);
            fputc('\n', out);
        }
        memcpy(v->last, p, n * sizeof *p);
        v->nlast = n;
    }
    fflush(out);
}

/* Polls app.get until its rollout is complete or the wait times out. */
static int wait_rollout(apply_state *s)
{
    const ctl_env *env = s->env;
    const char *app = s->app->name;
    size_t max = s->app->nactors + 16; /* the node may know a few more */
    actor_progress *p = calloc(max, sizeof *p);
    rollout_view v = {.tty = isatty(fileno(env->out)) == 1,
                      .last = calloc(max, sizeof *v.last)};
    if (!p || !v.last) {
        free(p);
        free(v.last);
        return ctl_fail(env, "out of memory");
    }
    int64_t deadline = ctl_now_ms() + s->args->wait_timeout_ms;
    int status = CTL_EXIT_FAIL;
    size_t n = 0;
    for (;;) {
        api_writer w;
        api_writer_init(&w);
        api_pack_request(&w.pk, "app.get", 1);
        api_pack_kv_str(&w.pk, "app", app);
        ctl_reply reply;
        if (!request(s, &w, &reply))
            break;
        n = read_progress(reply.root, p, max);
        show_progress(env, &v, app, p, n);
        bool complete = api_str_eq(api_get(reply.root, "rollout"), "complete");
        int64_t version = 0;
        api_get_int(reply.root, "version", &version);
        ctl_reply_free(&reply);
        if (complete) {
            fprintf(env->out, "rollout of %s complete (version %" PRId64 ")\n",
                    app, version);
            status = CTL_EXIT_OK;
            break;
        }
        if (ctl_now_ms() + ROLLOUT_POLL_MS > deadline) {
            char dur[32];
            ctl_format_duration(s->args->wait_timeout_ms, dur, sizeof dur);
            char where[512] = "";
            size_t used = 0;
            for (size_t i = 0; i < n && used < sizeof where; i++)
                used += (size_t)snprintf(where + used, sizeof where - used,
                                         "%s%s %" PRId64 "/%" PRId64 " ready",
                                         i ? ", " : "", p[i].name, p[i].ready,
                                         p[i].replicas);
            status = ctl_fail(env,
                              "rollout of %s did not complete within %s "
                              "(%s); it goes on, see 'shoalctl get actors "
                              "--app %s'",
                              app, dur, where, app);
            break;
        }
        struct timespec pause = {.tv_nsec = ROLLOUT_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    free(p);
    free(v.last);
    return status;
}

int ctl_apply(const ctl_env *env, const ctl_apply_args *args)
{
    apply_state s = {.env = env, .args = args};
    shoal_errinfo ei;
    int status = CTL_EXIT_FAIL;
    const char *name = strcmp(args->file, "-") == 0 ? "<stdin>" : args->file;
    s.name = name;

    if (!read_file(args->file, SHOAL_API_MAX_MSG - PUT_OVERHEAD, &s.text,
                   &s.text_len))
        return ctl_fail(env, "cannot read %s: %s", name, strerror(errno));
    shoal_err err = manifest_parse(s.text, s.text_len, name, &s.app, &ei);
    if (err == SHOAL_EMANIFEST) {
        /* The library's message names file, line, column and field, the
         * way compilers do; it is printed as it is. */
        fprintf(env->err, "%s\n", ei.msg);
        goto out_free_text;
    }
    if (err != SHOAL_OK) {
        ctl_fail(env, "%s: %s", name, ei.msg);
        goto out_free_text;
    }
    if (read_modules(&s) != CTL_EXIT_OK)
        goto out_free_modules;

    s.client = ctl_connect(env);
    if (!s.client)
        goto out_free_modules;
    int64_t version = 0;
    if (upload_modules(&s) != CTL_EXIT_OK ||
        send_apply(&s, &version) != CTL_EXIT_OK)
        goto out_close;
    status = args->wait ? wait_rollout(&s) : CTL_EXIT_OK;

out_close:
    ctl_client_close(s.client);
out_free_modules:
    for (size_t m = 0; m < s.nmodules; m++)
        free(s.modules[m].bytes);
    free(s.modules);
    if (s.app)
        manifest_free(s.app);
out_free_text:
    free(s.text);
    return status;
}
