/* shoald: the Shoal node daemon. Reads its options, takes the data
 * directory and runs the node (node.c) until SIGTERM or SIGINT. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: shoald [options]\n"
    "\n"
    "Runs a Shoal node: hosts Wasm actors, keeps the applications applied\n"
    "to it (shoalctl apply) in its data directory, and answers the control\n"
    "API (docs/control-api.md).\n"
    "\n"
    "options:\n"
    "  --data-dir DIR        state directory (default: $SHOAL_DATA_DIR, else\n"
    "                        /var/lib/shoal as root, else\n"
    "                        $XDG_DATA_HOME/shoal or ~/.local/share/shoal)\n"
    "  --listen URL          control API address, repeatable (default\n"
    "                        " SHOAL_API_DEFAULT_URL
    "; host:port means tcp://)\n"
    "                        an ipc socket in the data directory is always on\n"
    "  --provider NAME=CMD   run an external provider (repeatable): the node\n"
    "                        starts CMD with /bin/sh and restarts it when it\n"
    "                        exits; actors reach it through links to NAME\n"
    "  --cluster-listen URL  the wire to other nodes (tcp://HOST:PORT or\n"
    "                        HOST:PORT); without it the node is a cluster\n"
    "                        of one\n"
    "  --join URL[,URL...]   seed nodes' wire addresses to join through\n"
    "                        (repeatable)\n"
    "  --label KEY=VALUE     a label for placement (repeatable)\n"
    "  --capacity N          placement weight (default: the worker count)\n"
    "  --http-bind HOST      bind the http-server's routes on HOST instead\n"
    "                        of the host their links name\n"
    "  --gossip-period D     gossip protocol period (default 200ms)\n"
    "  --suspect-timeout D   suspect -> dead (default 1s)\n"
    "  --workers N           actor worker threads (default: one per CPU it\n"
    "                        may run on)\n"
    "  --fuel-slice N        fuel per scheduling slice (default 10000)\n"
    "  --shutdown-timeout D  how long running handlers may finish at\n"
    "                        shutdown, e.g. 500ms, 10s (default 10s)\n"
    "  --log-level LEVEL     error, warn, info (default) or debug\n"
    "  --version             print the version and exit\n"
    "  -h, --help            this text\n";

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "shoald: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'shoald --help'.\n");
    return 2;
}

/* "10s", "500ms", "2m", or plain milliseconds. */
static bool parse_duration_ms(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    long long mul = 1;
    if (strcmp(end, "ms") == 0 || *end == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else
        return false;
    if (v > INT64_MAX / mul)
        return false;
    *ms = v * mul;
    return true;
}

static bool parse_uint(const char *s, unsigned long long max,
                       unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return !errno && end != s && *end == 0 && *v <= max && s[0] != '-';
}

/* A heap copy of an address as an NNG URL: host:port means tcp://. */
static char *url_of(const char *s)
{
    size_t len = strlen(s) + 8;
    char *u = malloc(len);
    if (u)
        snprintf(u, len, "%s%s", strstr(s, "://") ? "" : "tcp://", s);
    return u;
}

/* The default data directory, in buf. */
static void default_data_dir(char *buf, size_t len)
{
    const char *env = getenv("SHOAL_DATA_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
    } else if (geteuid() == 0) {
        snprintf(buf, len, "/var/lib/shoal");
    } else if ((env = getenv("XDG_DATA_HOME")) && *env) {
        snprintf(buf, len, "%s/shoal", env);
    } else {
        const char *home = getenv("HOME");
        snprintf(buf, len, "%s/.local/share/shoal", home ? home : ".");
    }
}

/* mkdir -p. */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"provider", required_argument, NULL, 'p'},
        {"workers", required_argument, NULL, 'w'},
        {"cluster-listen", required_argument, NULL, 'C'},
        {"join", required_argument, NULL, 'J'},
        {"label", required_argument, NULL, 'B'},
        {"capacity", required_argument, NULL, 'K'},
        {"http-bind", required_argument, NULL, 'H'},
        {"gossip-period", required_argument, NULL, 'G'},
        {"suspect-timeout", required_argument, NULL, 'S'},
        {"fuel-slice", required_argument, NULL, 'f'},
        {"shutdown-timeout", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    node_options opt = {.shutdown_ms = 10000, .log_level = LOG_INFO};
    char data_dir[PATH_MAX];
    default_data_dir(data_dir, sizeof data_dir);
    const char *listen[8];
    char *listen_owned[8] = {0};
    unsigned nlisten = 0;
    const char *external[16];
    unsigned nproviders = 0;
    const char *join[32], *labels[32];
    unsigned njoin = 0, nlabels = 0;
    char *cluster_owned = NULL;
    char *owned[64] = {0};
    unsigned nowned = 0;
    unsigned long long v;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            snprintf(data_dir, sizeof data_dir, "%s", optarg);
            break;
        case 'l':
            if (nlisten == 8)
                return fail_usage("at most 8 --listen addresses%s", "");
            if (strstr(optarg, "://")) {
                listen[nlisten++] = optarg;
            } else {
                size_t len = strlen(optarg) + 8;
                listen_owned[nlisten] = malloc(len);
                if (!listen_owned[nlisten])
                    return 1;
                snprintf(listen_owned[nlisten], len, "tcp://%s", optarg);
                listen[nlisten] = listen_owned[nlisten];
                nlisten++;
            }
            break;
        case 'C':
            free(cluster_owned);
            cluster_owned = url_of(optarg);
            if (cluster_owned == NULL)
                return 1;
            opt.cluster_listen = cluster_owned;
            break;
        case 'J':
            for (char *tok = strtok(optarg, ","); tok;
                 tok = strtok(NULL, ",")) {
                if (njoin == 32 || nowned == 64)
                    return fail_usage("at most 32 --join addresses%s", "");
                owned[nowned] = url_of(tok);
                if (owned[nowned] == NULL)
                    return 1;
                join[njoin++] = owned[nowned++];
            }
            break;
        case 'B': {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || eq - optarg > 63 ||
                strlen(eq + 1) > 63)
                return fail_usage("--label: expected KEY=VALUE (each at most "
                                  "63 bytes), got %s",
                                  optarg);
            if (nlabels == 32)
                return fail_usage("at most 32 --label options%s", "");
            labels[nlabels++] = optarg;
            break;
        }
        case 'K':
            if (!parse_uint(optarg, 1000000, &v) || v == 0)
                return fail_usage("--capacity: expected 1 to 1000000, got %s",
                                  optarg);
            opt.capacity = (uint32_t)v;
            break;
        case 'H':
            opt.http_bind = optarg;
            break;
        case 'G':
            if (!parse_duration_ms(optarg, &opt.gossip_period_ms) ||
                opt.gossip_period_ms < 10)
                return fail_usage("--gossip-period: expected a duration of "
                                  "at least 10ms, got %s",
                                  optarg);
            break;
        case 'S':
            if (!parse_duration_ms(optarg, &opt.suspect_timeout_ms) ||
                opt.suspect_timeout_ms < 10)
                return fail_usage("--suspect-timeout: expected a duration of "
                                  "at least 10ms, got %s",
                                  optarg);
            break;
        case 'p':
            if (nproviders == 16)
                return fail_usage("at most 16 --provider options%s", "");
            external[nproviders++] = optarg;
            break;
        case 'w':
            if (!parse_uint(optarg, 1024, &v) || v == 0)
                return fail_usage("--workers: expected 1 to 1024, got %s",
                                  optarg);
            opt.workers = (unsigned)v;
            break;
        case 'f':
            if (!parse_uint(optarg, INT64_MAX, &v) || v == 0)
                return fail_usage("--fuel-slice: expected a positive "
                                  "integer, got %s",
                                  optarg);
            opt.fuel_slice = (int64_t)v;
            break;
        case 's':
            if (!parse_duration_ms(optarg, &opt.shutdown_ms))
                return fail_usage("--shutdown-timeout: expected a duration "
                                  "like 10s, got %s",
                                  optarg);
            break;
        case 'L':
            if (strcmp(optarg, "error") == 0)
                opt.log_level = LOG_ERROR;
            else if (strcmp(optarg, "warn") == 0)
                opt.log_level = LOG_WARN;
            else if (strcmp(optarg, "info") == 0)
                opt.log_level = LOG_INFO;
            else if (strcmp(optarg, "debug") == 0)
                opt.log_level = LOG_DEBUG;
            else
                return fail_usage("--log-level: expected error, warn, info "
                                  "or debug, got %s",
                                  optarg);
            break;
        case 'V':
            printf("shoald %s (control API %d)\n", SHOAL_VERSION,
                   SHOAL_API_VERSION);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs("Try 'shoald --help'.\n", stderr);
            return 2;
        }
    }
    if (optind < argc)
        return fail_usage("unexpected argument %s", argv[optind]);
    if (nlisten == 0)
        listen[nlisten++] = SHOAL_API_DEFAULT_URL;
    opt.listen = listen;
    opt.nlisten = nlisten;
    opt.providers = external;
    opt.nproviders = nproviders;
    opt.join = join;
    opt.njoin = njoin;
    opt.labels = labels;
    opt.nlabels = nlabels;
    if (njoin && opt.cluster_listen == NULL)
        return fail_usage("--join needs --cluster-listen (the address the "
                          "others reach this node at)%s",
                          "");

    if (make_dirs(data_dir) != 0) {
        fprintf(stderr, "shoald: cannot create data directory %s: %s\n",
                data_dir, strerror(errno));
        return 1;
    }
    char real[PATH_MAX];
    if (realpath(data_dir, real) == NULL) {
        fprintf(stderr, "shoald: data directory %s: %s\n", data_dir,
                strerror(errno));
        return 1;
    }
    opt.data_dir = real;

    /* One node per data directory: the lock lives as long as the process
     * (a node killed with -9 releases it with its file descriptors). */
    char lock_path[PATH_MAX + 8];
    snprintf(lock_path, sizeof lock_path, "%s/lock", real);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "shoald: data directory %s is in use by another shoald\n",
                real);
        return 1;
    }
    int code = node_run(&opt);
    close(lock_fd);
    for (unsigned i = 0; i < 8; i++)
        free(listen_owned[i]);
    for (unsigned i = 0; i < nowned; i++)
        free(owned[i]);
    free(cluster_owned);
    return code;
}
