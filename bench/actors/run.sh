#!/usr/bin/env bash
# The actor benchmark: Shoal's actor runtime (bench_actors) against Erlang/OTP
# (actors.erl) on the same four workloads, each run N times on both sides,
# one table of medians. See docs/benchmarks.md, "Actors".
#
#   bench/actors/run.sh [-n RUNS] [--build-dir DIR] [--small] [--raw DIR]
#   bench/actors/run.sh --report DIR   (the table of an earlier --raw DIR)
#
# Shoal is built in a release build directory (default build-release, set
# up with --buildtype=release -Db_lto=true if missing). Erlang comes from Debian: when
# erl is missing and the script runs as root it installs erlang-base.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-release
runs=3
raw=
report_only=
spawn_n=1000000
pingpong_n=1000000
ring_n=10000
ring_laps=1000
fanout_n=1000000
fanout_workers=1000
timeout_s=${BENCH_TIMEOUT_S:-600}

usage() {
    cat <<EOF
usage: $0 [options]
  -n RUNS          runs of each workload on each side (default 3; medians)
  --build-dir DIR  Shoal release build directory (default build-release)
  --small          small sizes, to check the script (10,000 spawns, ...)
  --raw DIR        keep every run's output in DIR (default: a temp dir)
  --timeout S      give up on a run after S seconds (default 600)
  --report DIR     run nothing: print the table of the runs kept in DIR
                   (give the same size options as for those runs)
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    -n) runs=$2; shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --small)
        spawn_n=10000 pingpong_n=10000 ring_n=100 ring_laps=10
        fanout_n=10000 fanout_workers=100
        shift ;;
    --raw) raw=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --report) raw=$2; report_only=1; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 1 ;;
    esac
done

# Builds, then runs every workload on both sides into $raw.
measure() {
    # ---- Erlang ----
    if ! command -v erl >/dev/null || ! command -v erlc >/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "erl not found: install erlang-base (or run this as root)" >&2
            exit 1
        fi
        echo "installing erlang-base ..." >&2
        apt-get install -y erlang-base >/dev/null ||
            { apt-get update >/dev/null && apt-get install -y erlang-base >/dev/null; }
    fi

    # ---- builds ----
    # A release build with link-time optimisation, as Shoal is built to
    # run (docs/benchmarks.md, "Actors").
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" "$root" --buildtype=release -Db_lto=true >/dev/null
    fi
    ninja -C "$build" bench-actors-build >/dev/null
    wasm_dir=$build/bench/actors
    erl_dir=$build/bench/actors/erl
    mkdir -p "$erl_dir"
    erlc -o "$erl_dir" "$root/bench/actors/actors.erl"
    # A copy, so that a rebuild during the benchmark cannot change the runtime
    # under test.
    bin=$(mktemp -d)/bench_actors
    cp "$wasm_dir/bench_actors" "$bin"

    if [ -z "$raw" ]; then
        raw=$(mktemp -d)
    fi
    mkdir -p "$raw"

    # ---- the workloads: name, bench_actors arguments, actors.erl arguments ----
    names=(spawn_idle spawn_idle_mem pingpong ring ring_1page fanout)
    declare -A shoal_args=(
        [spawn_idle]="spawn idle $spawn_n"
        [spawn_idle_mem]="spawn idle_mem $spawn_n"
        [pingpong]="pingpong $pingpong_n"
        [ring]="ring $ring_n $ring_laps"
        [ring_1page]="ring $ring_n $ring_laps 1"
        [fanout]="fanout $fanout_n $fanout_workers")
    # Erlang has one kind of idle process: both spawn rows compare with it;
    # and one ring: both ring rows (Shoal's actors with the default memory
    # limit, and with a limit of the one page they use) compare with it.
    declare -A erl_args=(
        [spawn_idle]="spawn $spawn_n"
        [pingpong]="pingpong $pingpong_n"
        [ring]="ring $ring_n $ring_laps"
        [fanout]="fanout $fanout_n $fanout_workers")

    # Both runtimes get two worker threads (schedulers); nothing is pinned.
    # +P: room for the spawned processes (Erlang's default is 262,144).
    erl_cmd=(erl +S 2 +P 4194304 -noshell -pa "$erl_dir" -run actors main)

    # (Outside a git checkout, an exported tree say, the commit is unknown.)
    if commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
        if ! git -C "$root" diff --quiet HEAD -- actor-runtime 2>/dev/null; then
            commit="$commit with uncommitted changes to actor-runtime"
        fi
    else
        commit=unknown
    fi
    otp=$(erl -noshell -eval 'io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().')
    echo "# Shoal $commit (release build $build), Erlang/OTP $otp"
    echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(uname -sr)"
    echo "# $runs runs per workload and side, medians; 2 workers / +S 2, no pinning"
    echo "# sizes: spawn $spawn_n, pingpong $pingpong_n round trips, ring $ring_n x $ring_laps laps, fanout $fanout_n to $fanout_workers workers"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# raw output: $raw"

    # run SIDE NAME RUN COMMAND... : one run, its output in $raw.
    run() {
        local side=$1 name=$2 r=$3
        shift 3
        local out=$raw/$side.$name.$r.out
        local status=0
        BENCH_TIMEOUT_S=$timeout_s timeout $((timeout_s + 60)) "$@" \
            >"$out" 2>"${out%.out}.err" || status=$?
        if [ $status != 0 ]; then
            echo "# FAILED ($status): $side $name run $r: $*" >&2
            tail -n 5 "${out%.out}.err" | sed 's/^/#   /' >&2
        fi
        printf '%s %s %s done (load %s)\n' "$side" "$name" "$r" \
            "$(cut -d' ' -f1 /proc/loadavg)" >&2
    }

    for r in $(seq 1 "$runs"); do
        for name in "${names[@]}"; do
            # shellcheck disable=SC2086
            run shoal "$name" "$r" "$bin" "$wasm_dir" ${shoal_args[$name]}
            if [ -n "${erl_args[$name]:-}" ]; then
                # shellcheck disable=SC2086
                run erlang "$name" "$r" "${erl_cmd[@]}" ${erl_args[$name]}
            fi
        done
    done
    echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# median SIDE NAME KEY: the median of KEY over the runs ("n/a" if none).
median() {
    local side=$1 name=$2 key=$3
    cat "$raw/$side.$name".*.out 2>/dev/null |
        awk -v k="$key" '$1 == "RESULT" && $2 == k { print $3 }' |
        sort -g |
        awk '{ v[NR] = $1 }
             END { if (NR == 0) print "n/a";
                   else if (NR % 2) print v[(NR + 1) / 2];
                   else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# row LABEL SHOAL_NAME ERL_NAME KEY HIGHER_IS_BETTER FORMAT
row() {
    local label=$1 sname=$2 ename=$3 key=$4 higher=$5 fmt=$6
    local s e
    s=$(median shoal "$sname" "$key")
    e=$(median erlang "$ename" "$key")
    awk -v l="$label" -v s="$s" -v e="$e" -v h="$higher" -v f="$fmt" 'BEGIN {
        ss = s == "n/a" ? s : sprintf(f, s)
        es = e == "n/a" ? e : sprintf(f, e)
        if (s == "n/a" || e == "n/a" || s == 0 || e == 0) {
            ratio = "n/a"; word = ""
        } else {
            ratio = sprintf("%.2f", s / e)
            better = h ? s / e : e / s
            if (better >= 1)
                word = sprintf("Shoal %.2fx better", better)
            else
                word = sprintf("Erlang %.2fx better", 1 / better)
        }
        printf "| %s | %s | %s | %s | %s |\n", l, ss, es, ratio, word
    }'
}

if [ -n "$report_only" ]; then
    echo "# runs kept in $raw"
else
    measure
fi

echo
echo "| workload | Shoal | Erlang | Shoal/Erlang | |"
echo "| --- | ---: | ---: | ---: | --- |"
row "spawn $spawn_n, µs per actor (idle.wat, no memory)" spawn_idle spawn_idle spawn_us 0 "%.2f"
row "spawn $spawn_n, µs per actor (idle_mem.wat, 1 page)" spawn_idle_mem spawn_idle spawn_us 0 "%.2f"
row "resident bytes per idle actor (no memory)" spawn_idle spawn_idle rss_per_actor_bytes 0 "%.0f"
row "resident bytes per idle actor (1 page)" spawn_idle_mem spawn_idle rss_per_actor_bytes 0 "%.0f"
row "kill $spawn_n, µs per actor (no memory)" spawn_idle spawn_idle kill_us 0 "%.2f"
row "kill $spawn_n, µs per actor (1 page)" spawn_idle_mem spawn_idle kill_us 0 "%.2f"
row "ping-pong, round trips per s" pingpong pingpong pingpong_rt_per_s 1 "%.0f"
row "ring $ring_n x $ring_laps, messages per s" ring ring ring_msgs_per_s 1 "%.0f"
row "ring $ring_n x $ring_laps, messages per s (memory limit 1 page)" ring_1page ring ring_msgs_per_s 1 "%.0f"
row "fan-out/fan-in $fanout_n x $fanout_workers, total s" fanout fanout fanout_s 0 "%.3f"
row "fan-out/fan-in, messages per s" fanout fanout fanout_msgs_per_s 1 "%.0f"
