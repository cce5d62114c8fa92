/* shoalctl: the command-line client of shoald. This file reads the command
 * line, prints help and hands each command to ctl.h's functions;
 * docs/shoalctl.md is the manual. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "output.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_WAIT_TIMEOUT_MS 120000

/* Options, by the value getopt_long returns. Short ones are their
 * letter. */
enum {
    OPT_HELP = 'h',
    OPT_OUTPUT = 'o',
    OPT_FILE = 'f',   /* apply */
    OPT_FOLLOW = 'F', /* logs -f; mapped from 'f' in logs' table */
    OPT_NODE = 256,
    OPT_TIMEOUT,
    OPT_NO_WAIT,
    OPT_WAIT_TIMEOUT,
    OPT_APP,
    OPT_REPLICAS,
    OPT_TAIL,
    OPT_DATA,
    OPT_CLIENT,
};

/* What the command line said, once read. */
typedef struct cmd_line {
    const char *name; /* the command */
    char **args;      /* its positional arguments */
    int nargs;
    const char *node;
    const char *timeout;
    const char *output;
    const char *file;
    bool no_wait;
    const char *wait_timeout;
    const char *app;
    const char *replicas;
    const char *tail;
    bool follow;
    const char *data;
    bool client;
} cmd_line;

typedef struct command {
    const char *name;
    const char *summary; /* for the list of commands */
    const char *help;    /* shoalctl CMD --help */
    const char *shortopts;
    struct option options[6];
    int (*run)(ctl_env *env, const cmd_line *cl);
} command;

static const char global_options_help[] =
    "Global options:\n"
    "  --node ADDRESS     the node: an NNG URL (tcp://host:port,\n"
    "                     ipc:///path) or host:port; default $SHOAL_NODE,\n"
    "                     else tcp://127.0.0.1:7401\n"
    "  --timeout D        how long one request may take (500ms, 10s, 2m;\n"
    "                     default 10s)\n"
    "  -h, --help         show this help\n";

static const char main_help_head[] =
    "Usage: shoalctl [--node ADDRESS] [--timeout D] COMMAND [ARGS...]\n"
    "Controls a Shoal node (shoald): applies application manifests,\n"
    "shows what runs, scales, calls actors and reads their logs.\n"
    "\n"
    "Commands:\n";

static const char main_help_tail[] =
    "\n"
    "Run 'shoalctl COMMAND --help' (or 'shoalctl help COMMAND') for a\n"
    "command's options.\n"
    "\n"
    "Exit status: 0 on success, 1 when the node, a file or a request\n"
    "fails, 2 for a bad command line.\n";

/* ---- Checking arguments --------------------------------------------------
 */

/* Splits "APP/ACTOR" into its two non-empty names (pointing into buf). */
static bool split_actor(const char *s, char *buf, size_t size, const char **app,
                        const char **actor)
{
    if (strlen(s) >= size)
        return false;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (!slash || slash == buf || slash[1] == 0 || strchr(slash + 1, '/'))
        return false;
    *slash = 0;
    *app = buf;
    *actor = slash + 1;
    return true;
}

/* A decimal integer in [0, max], the whole string. */
static bool parse_count(const char *s, int64_t max, int64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != 0 || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

static int want_args(ctl_env *env, const cmd_line *cl, int min, int max,
                     const char *what)
{
    if (cl->nargs < min)
        return ctl_usage_error(env, cl->name, "missing %s", what);
    if (cl->nargs > max)
        return ctl_usage_error(env, cl->name, "unexpected argument \"%s\"",
                               cl->args[max]);
    return CTL_EXIT_OK;
}

/* ---- Commands ------------------------------------------------------------
 */

static int run_apply(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 0, 0, "");
    if (status != CTL_EXIT_OK)
        return status;
    if (!cl->file)
        return ctl_usage_error(env, cl->name, "-f FILE is required");
    ctl_apply_args a = {.file = cl->file,
                        .wait = !cl->no_wait,
                        .wait_timeout_ms = DEFAULT_WAIT_TIMEOUT_MS};
    if (cl->wait_timeout &&
        !ctl_parse_duration(cl->wait_timeout, &a.wait_timeout_ms))
        return ctl_usage_error(env, cl->name,
                               "invalid --wait-timeout \"%s\": use a "
                               "duration such as 90s or 5m",
                               cl->wait_timeout);
    return ctl_apply(env, &a);
}

static int run_get(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 1, 1, "what to get: apps, actors or nodes");
    if (status != CTL_EXIT_OK)
        return status;
    const char *what = cl->args[0];
    if (strcmp(what, "app") == 0 || strcmp(what, "application") == 0 ||
        strcmp(what, "applications") == 0)
        what = "apps";
    else if (strcmp(what, "actor") == 0)
        what = "actors";
    else if (strcmp(what, "node") == 0)
        what = "nodes";
    if (strcmp(what, "apps") != 0 && strcmp(what, "actors") != 0 &&
        strcmp(what, "nodes") != 0)
        return ctl_usage_error(env, cl->name,
                               "cannot get \"%s\": use apps, actors or nodes",
                               cl->args[0]);
    if (cl->app && strcmp(what, "actors") != 0)
        return ctl_usage_error(env, cl->name, "--app goes with get actors");
    return ctl_get(env, what, cl->app);
}

static int run_describe(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 2, 2,
                           "what to describe: app NAME or "
                           "actor APP/ACTOR");
    if (status != CTL_EXIT_OK)
        return status;
    const char *kind = cl->args[0];
    if (strcmp(kind, "app") == 0 || strcmp(kind, "apps") == 0) {
        if (strchr(cl->args[1], '/'))
            return ctl_usage_error(env, cl->name,
                                   "\"%s\" is not an application name",
                                   cl->args[1]);
        return ctl_describe_app(env, cl->args[1]);
    }
    if (strcmp(kind, "actor") == 0 || strcmp(kind, "actors") == 0) {
        char buf[256];
        const char *app, *actor;
        if (!split_actor(cl->args[1], buf, sizeof buf, &app, &actor))
            return ctl_usage_error(env, cl->name, "\"%s\" is not APP/ACTOR",
                                   cl->args[1]);
        return ctl_describe_actor(env, app, actor);
    }
    return ctl_usage_error(env, cl->name,
                           "cannot describe \"%s\": use app or actor", kind);
}

static int run_scale(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 1, 1, "APP/ACTOR");
    if (status != CTL_EXIT_OK)
        return status;
    char buf[256];
    const char *app, *actor;
    if (!split_actor(cl->args[0], buf, sizeof buf, &app, &actor))
        return ctl_usage_error(env, cl->name, "\"%s\" is not APP/ACTOR",
                               cl->args[0]);
    int64_t n = 0;
    if (!cl->replicas)
        return ctl_usage_error(env, cl->name, "--replicas N is required");
    if (!parse_count(cl->replicas, UINT32_MAX, &n))
        return ctl_usage_error(env, cl->name,
                               "invalid --replicas \"%s\": use a whole "
                               "number, 0 or more",
                               cl->replicas);
    return ctl_scale(env, app, actor, (uint32_t)n);
}

static int run_delete(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 2, 2, "what to delete: app NAME");
    if (status != CTL_EXIT_OK)
        return status;
    if (strcmp(cl->args[0], "app") != 0 && strcmp(cl->args[0], "apps") != 0)
        return ctl_usage_error(
            env, cl->name, "cannot delete \"%s\": use app NAME", cl->args[0]);
    return ctl_delete_app(env, cl->args[1]);
}

static int run_logs(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 1, 1, "APP/ACTOR");
    if (status != CTL_EXIT_OK)
        return status;
    char buf[256];
    const char *app, *actor;
    if (!split_actor(cl->args[0], buf, sizeof buf, &app, &actor))
        return ctl_usage_error(env, cl->name, "\"%s\" is not APP/ACTOR",
                               cl->args[0]);
    int64_t tail = -1;
    if (cl->tail && !parse_count(cl->tail, INT32_MAX, &tail))
        return ctl_usage_error(env, cl->name,
                               "invalid --tail \"%s\": use a whole number, "
                               "0 or more",
                               cl->tail);
    return ctl_logs(env, app, actor, cl->follow, tail);
}

static int run_call(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 1, 1, "APP/ACTOR");
    if (status != CTL_EXIT_OK)
        return status;
    char buf[256];
    const char *app, *actor;
    if (!split_actor(cl->args[0], buf, sizeof buf, &app, &actor))
        return ctl_usage_error(env, cl->name, "\"%s\" is not APP/ACTOR",
                               cl->args[0]);
    if (!cl->data)
        return ctl_usage_error(env, cl->name, "--data JSON is required");
    return ctl_call(env, app, actor, cl->data);
}

static int run_version(ctl_env *env, const cmd_line *cl)
{
    int status = want_args(env, cl, 0, 0, "");
    if (status != CTL_EXIT_OK)
        return status;
    return ctl_version(env, cl->client);
}

static int run_help(ctl_env *env, const cmd_line *cl);

#define OPTION_OUTPUT                                                          \
    {                                                                          \
        "output", required_argument, NULL, OPT_OUTPUT                          \
    }

static const command commands[] = {
    {"apply",
     "apply a manifest and wait for its rollout",
     "Usage: shoalctl apply -f FILE [--no-wait] [--wait-timeout D]\n"
     "Checks the application manifest FILE ('-' reads stdin), uploads the\n"
     "modules its actors name that the node lacks (paths are relative to\n"
     "FILE's directory), applies it and prints what happens to each actor.\n"
     "Then it waits until every replica runs the new version, showing each\n"
     "actor's ready replicas. A manifest with an error is reported as\n"
     "FILE:LINE:COLUMN: FIELD: problem, and the node is not contacted.\n"
     "\n"
     "Options:\n"
     "  -f, --filename FILE  the manifest (required)\n"
     "  --no-wait            return once the node has accepted the manifest\n"
     "  --wait-timeout D     give up waiting after D (default 2m); the\n"
     "                       rollout goes on, shoalctl exits 1\n",
     "f:",
     {{"filename", required_argument, NULL, OPT_FILE},
      {"no-wait", no_argument, NULL, OPT_NO_WAIT},
      {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT}},
     run_apply},
    {"get",
     "list applications, actors or nodes",
     "Usage: shoalctl get apps|actors|nodes [-o table|json|yaml]\n"
     "                    [--app NAME]\n"
     "Lists what the node knows as a table: applications (NAME VERSION\n"
     "READY ROLLOUT UPDATED), actor replicas (APP ACTOR REPLICA ID NODE\n"
     "STATE VERSION RESTARTS AGE) or nodes, the cluster's members (NAME\n"
     "ID ADDRESS STATE CAPACITY ACTORS MEMORY LABELS). -o json and -o yaml\n"
     "print the node's list as it is.\n"
     "\n"
     "Options:\n"
     "  -o, --output FORMAT  table (default), json or yaml\n"
     "  --app NAME           get actors: only those of application NAME\n",
     "o:",
     {OPTION_OUTPUT, {"app", required_argument, NULL, OPT_APP}},
     run_get},
    {"describe",
     "show an application or an actor in detail",
     "Usage: shoalctl describe app NAME [-o table|json|yaml]\n"
     "       shoalctl describe actor APP/ACTOR [-o table|json|yaml]\n"
     "Shows an application (version, rollout, each actor's module,\n"
     "replicas, limits and links) or one actor with its replicas (state,\n"
     "restarts, mailbox, memory, fuel used, last exit).\n"
     "\n"
     "Options:\n"
     "  -o, --output FORMAT  table (default: readable lines), json or yaml\n",
     "o:",
     {OPTION_OUTPUT},
     run_describe},
    {"scale",
     "set an actor's number of replicas",
     "Usage: shoalctl scale APP/ACTOR --replicas N\n"
     "Sets how many replicas of the actor run (0 or more). A later apply of\n"
     "the manifest sets it back to what the manifest says.\n"
     "\n"
     "Options:\n"
     "  --replicas N         the number of replicas (required)\n",
     "",
     {{"replicas", required_argument, NULL, OPT_REPLICAS}},
     run_scale},
    {"delete",
     "stop an application and remove it",
     "Usage: shoalctl delete app NAME\n"
     "Stops the application's actors and removes its state from the "
     "node.\n",
     "",
     {{0}},
     run_delete},
    {"logs",
     "print an actor's log lines",
     "Usage: shoalctl logs APP/ACTOR [--tail N] [-f]\n"
     "Prints the latest log lines of the actor's replicas, one per line:\n"
     "  TIME replica=N LEVEL TEXT\n"
     "with TIME in UTC (2026-11-21T08:24:24.123Z).\n"
     "\n"
     "Options:\n"
     "  --tail N             at most the last N lines (default: the node's,\n"
     "                       100)\n"
     "  -f, --follow         then print new lines as they come, until\n"
     "                       interrupted (exit 0) or the node goes away\n"
     "                       (exit 1)\n",
     "f",
     {{"tail", required_argument, NULL, OPT_TAIL},
      {"follow", no_argument, NULL, OPT_FOLLOW}},
     run_logs},
    {"call",
     "send a message to an actor and print its reply",
     "Usage: shoalctl call APP/ACTOR --data JSON [--timeout D]\n"
     "Sends JSON, as msgpack, to one running replica of the actor and\n"
     "prints its reply as JSON on one line. Objects become maps, numbers\n"
     "without a fraction or exponent integers, others float64;\n"
     "{\"$bin\": \"BASE64\"} is msgpack bin both ways. --timeout is how long\n"
     "the actor may take.\n"
     "\n"
     "Options:\n"
     "  --data JSON          the message (required)\n",
     "",
     {{"data", required_argument, NULL, OPT_DATA}},
     run_call},
    {"version",
     "print shoalctl's and the node's versions",
     "Usage: shoalctl version [--client]\n"
     "Prints shoalctl's version, then the node's name and version. When\n"
     "the node cannot be reached, says so and exits 1.\n"
     "\n"
     "Options:\n"
     "  --client             only shoalctl's version; no node is contacted\n",
     "",
     {{"client", no_argument, NULL, OPT_CLIENT}},
     run_version},
    {"help",
     "show the help of shoalctl or of a command",
     "Usage: shoalctl help [COMMAND]\n"
     "Shows the list of commands, or COMMAND's help.\n",
     "",
     {{0}},
     run_help},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_main_help(FILE *out)
{
    fputs(main_help_head, out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputc('\n', out);
    fputs(global_options_help, out);
    fputs(main_help_tail, out);
}

static void print_command_help(const command *cmd, FILE *out)
{
    fputs(cmd->help, out);
    fputc('\n', out);
    fputs(global_options_help, out);
}

static int run_help(ctl_env *env, const cmd_line *cl)
{
    if (cl->nargs == 0) {
        print_main_help(env->out);
        return CTL_EXIT_OK;
    }
    int status = want_args(env, cl, 0, 1, "");
    if (status != CTL_EXIT_OK)
        return status;
    const command *cmd = find_command(cl->args[0]);
    if (!cmd)
        return ctl_usage_error(env, cl->name, "unknown command \"%s\"",
                               cl->args[0]);
    print_command_help(cmd, env->out);
    return CTL_EXIT_OK;
}

/* ---- Reading the command line --------------------------------------------
 */

static const struct option global_options[] = {
    {"node", required_argument, NULL, OPT_NODE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
};

/* Whether arg is a global option that takes its value from the next
 * argument, which must then be skipped when looking for the command. */
static bool takes_next(const char *arg)
{
    return strcmp(arg, "--node") == 0 || strcmp(arg, "--timeout") == 0 ||
           strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0;
}

/* The index in argv of the command's name, or 0 when there is none. */
static int find_command_index(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc ? i + 1 : 0;
        if (argv[i][0] != '-' || argv[i][1] == 0)
            return i;
        if (takes_next(argv[i]))
            i++;
    }
    return 0;
}

static bool has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

/* The option as the user wrote it, for a message: "--foo" of "--foo=1". */
static void option_text(const char *arg, int opt, char *buf, size_t size)
{
    if (opt != 0 && opt != '?' && opt != ':') {
        snprintf(buf, size, "-%c", opt);
        return;
    }
    snprintf(buf, size, "%s", arg);
    char *eq = strchr(buf, '=');
    if (eq)
        *eq = 0;
}

/* Reads cmd's options from argv (the command's name already removed:
 * argv[0] is the program). */
static int read_options(ctl_env *env, const command *cmd, int argc, char **argv,
                        cmd_line *cl)
{
    struct option opts[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof global_options / sizeof global_options[0];
         i++)
        opts[n++] = global_options[i];
    for (size_t i = 0; i < sizeof cmd->options / sizeof cmd->options[0] &&
                       cmd->options[i].name;
         i++)
        opts[n++] = cmd->options[i];
    opts[n] = (struct option){0};
    /* ':' first: a missing value returns ':', an unknown option '?'. */
    char shortopts[32];
    snprintf(shortopts, sizeof shortopts, ":h%s", cmd->shortopts);

    char text[64];
    opterr = 0;
    optind = 0; /* 0 makes glibc start over */
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP:
            break; /* handled before */
        case OPT_NODE:
            cl->node = optarg;
            break;
        case OPT_TIMEOUT:
            cl->timeout = optarg;
            break;
        case OPT_OUTPUT:
            cl->output = optarg;
            break;
        case 'f':
            if (strcmp(cmd->name, "logs") == 0)
                cl->follow = true;
            else
                cl->file = optarg;
            break;
        case OPT_FOLLOW:
            cl->follow = true;
            break;
        case OPT_NO_WAIT:
            cl->no_wait = true;
            break;
        case OPT_WAIT_TIMEOUT:
            cl->wait_timeout = optarg;
            break;
        case OPT_APP:
            cl->app = optarg;
            break;
        case OPT_REPLICAS:
            cl->replicas = optarg;
            break;
        case OPT_TAIL:
            cl->tail = optarg;
            break;
        case OPT_DATA:
            cl->data = optarg;
            break;
        case OPT_CLIENT:
            cl->client = true;
            break;
        case ':':
            option_text(argv[optind - 1], optopt, text, sizeof text);
            return ctl_usage_error(env, cmd->name, "%s needs a value", text);
        default:
            option_text(argv[optind - 1], optopt, text, sizeof text);
            return ctl_usage_error(env, cmd->name, "unknown option %s", text);
        }
    }
    cl->args = argv + optind;
    cl->nargs = argc - optind;
    return CTL_EXIT_OK;
}

/* Applies the global options to env. */
static int set_env(ctl_env *env, const cmd_line *cl, char **url)
{
    const char *node = cl->node;
    if (!node) {
        node = getenv("SHOAL_NODE");
        if (!node || !*node)
            node = SHOAL_API_DEFAULT_URL;
    }
    shoal_errinfo ei;
    if (ctl_node_url(node, url, &ei) != SHOAL_OK)
        return ctl_usage_error(env, cl->name, "%s", ei.msg);
    env->node = *url;
    if (cl->timeout && !ctl_parse_duration(cl->timeout, &env->timeout_ms))
        return ctl_usage_error(env, cl->name,
                               "invalid --timeout \"%s\": use a duration "
                               "such as 500ms, 10s or 2m",
                               cl->timeout);
    if (cl->output) {
        if (strcmp(cl->output, "table") == 0)
            env->format = CTL_FORMAT_TABLE;
        else if (strcmp(cl->output, "json") == 0)
            env->format = CTL_FORMAT_JSON;
        else if (strcmp(cl->output, "yaml") == 0)
            env->format = CTL_FORMAT_YAML;
        else
            return ctl_usage_error(env, cl->name,
                                   "invalid output format \"%s\": use table, "
                                   "json or yaml",
                                   cl->output);
    }
    return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    ctl_env env = {.timeout_ms = DEFAULT_TIMEOUT_MS,
                   .format = CTL_FORMAT_TABLE,
                   .out = stdout,
                   .err = stderr};
    int at = find_command_index(argc, argv);
    if (at == 0) {
        if (has_help(argc, argv)) {
            print_main_help(stdout);
            return CTL_EXIT_OK;
        }
        if (argc > 1) {
            fprintf(stderr, "shoalctl: no command (see 'shoalctl --help')\n");
            return CTL_EXIT_USAGE;
        }
        print_main_help(stderr);
        return CTL_EXIT_USAGE;
    }
    const command *cmd = find_command(argv[at]);
    if (!cmd) {
        fprintf(stderr,
                "shoalctl: unknown command \"%s\" (see 'shoalctl --help')\n",
                argv[at]);
        return CTL_EXIT_USAGE;
    }

    /* The command's own argv: everything but its name. */
    char **sub = malloc((size_t)argc * sizeof *sub);
    if (!sub) {
        fprintf(stderr, "shoalctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    int subc = 0;
    for (int i = 0; i < argc; i++)
        if (i != at)
            sub[subc++] = argv[i];
    sub[subc] = NULL;

    int status;
    char *url = NULL;
    cmd_line cl = {.name = cmd->name};
    if (has_help(subc, sub)) {
        print_command_help(cmd, stdout);
        status = CTL_EXIT_OK;
    } else if ((status = read_options(&env, cmd, subc, sub, &cl)) ==
                   CTL_EXIT_OK &&
               (status = set_env(&env, &cl, &url)) == CTL_EXIT_OK) {
        status = cmd->run(&env, &cl);
    }
    free(url);
    free(sub);
    return status;
}
