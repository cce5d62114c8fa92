/* shoalctl's commands as main.c calls them once it has read the command
 * line. Each returns the process's exit status: CTL_EXIT_OK, CTL_EXIT_FAIL
 * after printing one line to env->err, or CTL_EXIT_USAGE. */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

#ifndef SHOAL_VERSION
#define SHOAL_VERSION "unknown"
#endif

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,  /* the node, a file or a request failed */
    CTL_EXIT_USAGE = 2, /* a bad command line */
};

typedef enum ctl_format {
    CTL_FORMAT_TABLE = 0,
    CTL_FORMAT_JSON,
    CTL_FORMAT_YAML,
} ctl_format;

/* What every command needs: where the node is and how to talk and print. */
typedef struct ctl_env {
    const char *node;   /* an NNG URL */
    int64_t timeout_ms; /* for each request */
    ctl_format format;  /* -o */
    FILE *out;          /* results */
    FILE *err;          /* errors, one line each */
} ctl_env;

/* Prints "shoalctl: MESSAGE" and a newline to env->err; returns
 * CTL_EXIT_FAIL. */
int ctl_fail(const ctl_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "shoalctl CMD: MESSAGE (see 'shoalctl CMD --help')" to env->err;
 * returns CTL_EXIT_USAGE. */
int ctl_usage_error(const ctl_env *env, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Connects to env->node; on failure prints why and returns NULL. */
ctl_client *ctl_connect(const ctl_env *env);

/* Milliseconds since the epoch, now. */
int64_t ctl_now_ms(void);

typedef struct ctl_apply_args {
    const char *file;        /* the manifest; "-" reads stdin */
    bool wait;               /* wait for the rollout */
    int64_t wait_timeout_ms; /* how long */
} ctl_apply_args;

int ctl_apply(const ctl_env *env, const ctl_apply_args *args);

/* what: "apps", "actors" or "nodes"; app (NULL for all) filters actors. */
int ctl_get(const ctl_env *env, const char *what, const char *app);
int ctl_describe_app(const ctl_env *env, const char *app);
int ctl_describe_actor(const ctl_env *env, const char *app, const char *actor);
int ctl_scale(const ctl_env *env, const char *app, const char *actor,
              uint32_t replicas);
int ctl_delete_app(const ctl_env *env, const char *app);
/* tail < 0: the node's default. */
int ctl_logs(const ctl_env *env, const char *app, const char *actor,
             bool follow, int64_t tail);
int ctl_call(const ctl_env *env, const char *app, const char *actor,
             const char *json);
/* client_only: print the client's version and do not ask the node. */
int ctl_version(const ctl_env *env, bool client_only);

#endif
