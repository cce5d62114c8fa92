#!/usr/bin/env bash
# HTTP benchmark: the http-server provider of shoald serving the hello
# application's greeter actor, side by side with nginx answering a fixed body
# of the same length, both measured with wrk in one run; then the kv-backed
# counter (/count, one durable write per request) on its own.
#
# It builds nothing: it runs build/node/shoald, build/ctl/shoalctl and the
# hello application from build/examples/hello/ of an already built tree
# (--build-dir, or $SHOAL_BUILD). Copies of them are taken first, so that a
# rebuild while it runs cannot change what is measured. As root it installs
# wrk, nginx and curl (Debian packages) when they are missing.
#
# Every process it starts (shoald, nginx, wrk) is stopped by its PID when it
# exits, also on Ctrl-C; every wait is bounded; everything listens on
# 127.0.0.1 only. See docs/benchmarks.md, "HTTP".
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
usage: bench/http/run.sh [options]

  --duration S          seconds per wrk run (default 10)
  --connections N       wrk connections (default 64)
  --threads N           wrk threads (default 2)
  --runs R              timed runs per server, alternating (default 5)
  --count-runs R        timed runs of /count (default 2; 0 skips it)
  --count-replicas N    scale hello/visits to N replicas before them (default:
                        the manifest's 1)
  --warmup S            seconds of an untimed wrk run per server first (default 2)
  --nginx-workers LIST  nginx worker_processes, comma-separated; each value is
                        a server of its own in the same run (default 1 when
                        pinned, 1,2 when not)
  --shoald-workers N    shoald --workers, or "default" for shoald's own (one
                        per online CPU); default 1 when pinned, else "default"
  --pin                 servers on CPU 0, wrk on CPU 1, with taskset (default)
  --no-pin              let the scheduler place everything
  --server-cpu N        CPU for the servers when pinned (default 0)
  --wrk-cpu N           CPU for wrk when pinned (default 1)
  --build-dir DIR       built tree (default: $SHOAL_BUILD, else build)
  --raw DIR             keep every wrk output and the servers' logs in DIR
  -h, --help            this text
EOF
}

root=$(cd "$(dirname "$0")/../.." && pwd)
duration=10
connections=64
threads=2
runs=5
count_runs=2
count_replicas=
warmup=2
nginx_workers=
shoald_workers=
pin=1
server_cpu=0
wrk_cpu=1
build_dir=${SHOAL_BUILD:-build}
raw=

die() { echo "run.sh: $*" >&2; exit 1; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive integer, got '$2'"; }

while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --count-runs) count_runs=$2; shift 2 ;;
    --count-replicas) count_replicas=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --nginx-workers) nginx_workers=${2//,/ }; shift 2 ;;
    --shoald-workers) shoald_workers=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --no-pin) pin=0; shift ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --wrk-cpu) wrk_cpu=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

posint --duration "$duration"
posint --connections "$connections"
posint --threads "$threads"
posint --runs "$runs"
[[ $count_runs =~ ^[0-9]+$ ]] || die "--count-runs wants a non-negative integer"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup wants a non-negative integer"
[ -z "$count_replicas" ] || posint --count-replicas "$count_replicas"
# Pinned, each server gets one CPU and is configured for one: nginx one
# worker, shoald one actor worker (its default counts online CPUs, not the
# CPUs it may run on). Unpinned, nginx runs with one worker and with one per
# core, side by side, and shoald with its defaults.
if [ -z "$nginx_workers" ]; then
  if [ "$pin" = 1 ]; then nginx_workers=1; else nginx_workers="1 2"; fi
fi
if [ -z "$shoald_workers" ]; then
  if [ "$pin" = 1 ]; then shoald_workers=1; else shoald_workers=default; fi
fi
for w in $nginx_workers; do posint --nginx-workers "$w"; done
[ "$shoald_workers" = default ] || posint --shoald-workers "$shoald_workers"
[ "$threads" -le "$connections" ] || die "wrk needs at least one connection per thread"
[[ $build_dir == /* ]] || build_dir=$root/$build_dir

# --- what it needs -----------------------------------------------------------
shoald_src=$build_dir/node/shoald
shoalctl_src=$build_dir/ctl/shoalctl
hello_src=$build_dir/examples/hello
for f in "$shoald_src" "$shoalctl_src" "$hello_src/hello.yaml" \
  "$hello_src/greeter.wasm" "$hello_src/visits.wasm"; do
  [ -e "$f" ] || die "no $f: this script builds nothing; build the tree first
  (meson setup build && ninja -C build), or point --build-dir or SHOAL_BUILD
  at a built one"
done

# nginx lives in /usr/sbin, which a non-root PATH may lack.
nginx_bin=$(PATH=$PATH:/usr/sbin command -v nginx || true)
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -n "$nginx_bin" ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; run as root to install them, or install them"
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  if ! apt-get install -y -qq "${missing[@]}" >&2; then
    # Older or other Debian-like releases: nginx instead of nginx-light.
    missing=("${missing[@]/nginx-light/nginx}")
    apt-get install -y -qq "${missing[@]}" >&2
  fi
  nginx_bin=$(PATH=$PATH:/usr/sbin command -v nginx || true)
fi
[ -n "$nginx_bin" ] || die "no nginx after installing it"

ncpu=$(getconf _NPROCESSORS_ONLN)   # online CPUs; nproc counts only allowed ones
if [ "$pin" = 1 ]; then
  command -v taskset >/dev/null || die "--pin needs taskset (util-linux); or --no-pin"
  for c in "$server_cpu" "$wrk_cpu"; do
    taskset -c "$c" true 2>/dev/null || die "cannot pin to CPU $c; try --no-pin"
  done
  [ "$server_cpu" != "$wrk_cpu" ] || echo "note: servers and wrk pinned to the same CPU" >&2
  on_server=(taskset -c "$server_cpu")
  on_wrk=(taskset -c "$wrk_cpu")
  pinned="servers on CPU $server_cpu, wrk on CPU $wrk_cpu (taskset)"
else
  on_server=()
  on_wrk=()
  pinned="not pinned"
fi

# --- temporary directory and clean-up ----------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-http.XXXXXX")
started_pids=()   # processes this script started, stopped in reverse order
wrk_pid=
cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  if [ -n "$wrk_pid" ] && kill -0 "$wrk_pid" 2>/dev/null; then
    kill -TERM "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
  fi
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
    stop_pid "${started_pids[$i]}"
  done
  if [ -n "$raw" ]; then
    mkdir -p "$raw"
    cp "$tmp"/shoald.log "$tmp"/nginx-*/error.log "$raw"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_pid PID: TERM, up to 15 s for a graceful exit (shoald drains its
# requests), then KILL.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # A zombie child counts as alive for kill -0 until waited for.
    [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; then
    echo "run.sh: PID $pid did not stop within 15 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# free_port VAR: sets VAR to a loopback TCP port nobody uses and this script
# has not handed out yet (a bounded number of random tries in 20000-49999).
# Not for $(): the ports handed out are remembered in this shell.
taken_ports=" "
free_port() {
  local i p
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 30000))
    [[ $taken_ports == *" $p "* ]] && continue
    if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
      taken_ports+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "no free port found"
}

# http_code URL: the status code of a GET, or 000.
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }

# wait_200 URL WHAT PID LOG: until URL answers 200 (up to 10 s), or die
# showing LOG when PID exits or time runs out.
wait_200() {
  local url=$1 what=$2 pid=$3 log=$4 i
  for ((i = 0; i < 100; i++)); do
    [ "$(http_code "$url")" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $what exited; its log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "run.sh: $url did not answer 200 within 10 s; the log of $what:" >&2
  tail -n 20 "$log" >&2
  exit 1
}

# --- shoald and the hello application ------------------------------------------
# Private copies, so that a rebuild during the run cannot mix two builds.
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/data"
cp "$shoald_src" "$shoalctl_src" "$tmp/bin/"
cp "$hello_src/greeter.wasm" "$hello_src/visits.wasm" "$tmp/app/"
shoald_sum=$(sha256sum "$tmp/bin/shoald" | cut -c1-12)

ctl_port='' shoal_port='' port=''
free_port ctl_port
free_port shoal_port
export SHOAL_NODE=127.0.0.1:$ctl_port
sed "s/127\.0\.0\.1:8080/127.0.0.1:$shoal_port/g" "$hello_src/hello.yaml" >"$tmp/app/hello.yaml"
grep -q "127.0.0.1:$shoal_port" "$tmp/app/hello.yaml" ||
  die "$hello_src/hello.yaml has no 127.0.0.1:8080 address to rewrite"

shoald_args=(--data-dir "$tmp/data" --listen "127.0.0.1:$ctl_port" --log-level warn)
[ "$shoald_workers" = default ] || shoald_args+=(--workers "$shoald_workers")
"${on_server[@]}" "$tmp/bin/shoald" "${shoald_args[@]}" 2>"$tmp/shoald.log" &
shoald_pid=$!
started_pids+=("$shoald_pid")
for ((i = 0; i < 100; i++)); do
  "$tmp/bin/shoalctl" --timeout 1s version >/dev/null 2>&1 && break
  kill -0 "$shoald_pid" 2>/dev/null || { cat "$tmp/shoald.log" >&2; die "shoald did not start"; }
  sleep 0.1
done
"$tmp/bin/shoalctl" --timeout 30s apply -f "$tmp/app/hello.yaml" >"$tmp/apply.out" 2>&1 ||
  { cat "$tmp/apply.out" "$tmp/shoald.log" >&2; die "shoalctl apply failed"; }
shoal_url=http://127.0.0.1:$shoal_port/
wait_200 "$shoal_url" shoald "$shoald_pid" "$tmp/shoald.log"

greeting=$(curl -s --max-time 2 "$shoal_url")$'\n'   # $() drops the final newline
body_len=$(curl -s --max-time 2 "$shoal_url" | wc -c)
shoal_threads=$(find "/proc/$shoald_pid/task" -mindepth 1 -maxdepth 1 | wc -l)

# --- nginx -----------------------------------------------------------------------
# Its own configuration and prefix in the temporary directory: one server on
# a loopback port, returning the greeter's answer from the configuration,
# with the greeter's content type. No access log; keep-alive for the whole
# run, as shoald's.
nginx_escape() { # the body as an nginx quoted string
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}
  printf '%s' "$s"
}
nginx_temp_paths() { # one *_temp_path per module this nginx has
  local v m
  v=$("$nginx_bin" -V 2>&1)
  echo "client_body_temp_path $1/body;"
  for m in proxy fastcgi uwsgi scgi; do
    [[ $v == *"--without-http_${m}_module"* ]] || echo "${m}_temp_path $1/$m;"
  done
}
declare -A nginx_port=() nginx_pid=()
servers=(shoal)
for w in $nginx_workers; do
  d=$tmp/nginx-$w
  mkdir -p "$d"
  free_port port
  nginx_port[$w]=$port
  cat >"$d/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $w;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    $(nginx_temp_paths "$d")
    server {
        listen 127.0.0.1:${nginx_port[$w]};
        location / {
            default_type "text/plain; charset=utf-8";
            return 200 "$(nginx_escape "$greeting")";
        }
    }
}
EOF
  "${on_server[@]}" "$nginx_bin" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" 2>"$d/stderr" &
  pid=$!
  started_pids+=("$pid")
  nginx_pid[$w]=$pid
  wait_200 "http://127.0.0.1:${nginx_port[$w]}/" "nginx" "$pid" "$d/stderr"
  [ "$(curl -s --max-time 2 "http://127.0.0.1:${nginx_port[$w]}/")"$'\n' = "$greeting" ] ||
    die "nginx does not answer the greeter's body"
  servers+=("nginx$w")
done

url_of() { # url_of SERVER
  case $1 in
    shoal) echo "$shoal_url" ;;
    count) echo "${shoal_url}count" ;;
    nginx*) echo "http://127.0.0.1:${nginx_port[${1#nginx}]}/" ;;
  esac
}
resp_bytes() { curl -s -i --max-time 2 "$(url_of "$1")" | wc -c; }

# --- wrk ---------------------------------------------------------------------------
# run_wrk SERVER SECONDS OUT: one wrk run, in the background so that Ctrl-C
# reaches the trap at once; bounded by timeout.
run_wrk() {
  local s=$1 secs=$2 out=$3 rc=0
  "${on_wrk[@]}" timeout -k 5 $((secs + 60)) wrk -t"$threads" -c"$connections" -d"${secs}s" \
    --latency "$(url_of "$s")" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=
  [ "$rc" = 0 ] || { cat "$out" >&2; die "wrk against $s failed (status $rc)"; }
}

# parse_wrk FILE: "rps p50 p90 p99 requests non2xx errors" (latencies in ms).
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return -1
    }
    $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    $2 == "requests" && $3 == "in" { n = $1 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    END { printf "%s %.3f %.3f %.3f %s %d %d", rps, p50, p90, p99, n, bad, err }' "$1"
}

# CPU accounting. On a shared machine requests/s moves with whatever else
# runs; the CPU time each side used is steadier. server_pids SERVER: shoald
# (its threads are in its own figures), or nginx's master and workers.
server_pids() {
  case $1 in
    shoal|count) echo "$shoald_pid" ;;
    nginx*) local m=${nginx_pid[${1#nginx}]}
      echo "$m $(cat "/proc/$m/task/$m/children" 2>/dev/null)" ;;
  esac
}
cpu_ticks() { # cpu_ticks PID...: user+system clock ticks of the processes
  local p
  for p in "$@"; do
    # Fields after the parenthesised name: utime and stime are 12th and 13th.
    sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }'
  done | awk '{ t += $1 } END { print t + 0 }'
}
hz=$(getconf CLK_TCK)
# children_ticks: sets wticks to the user+system ticks of this shell's
# waited-for children so far (the wrk runs). Not to be called in $(): a
# subshell's `times` would report the subshell's own children.
children_ticks() {
  local u s
  times >"$tmp/times"
  { read -r _; read -r u s; } <"$tmp/times"
  wticks=$(awk -v u="$u" -v s="$s" -v hz="$hz" '
    function sec(x, m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    BEGIN { printf "%.0f", (sec(u) + sec(s)) * hz }')
}

# measure SERVER RUN: one timed wrk run; res["SERVER RUN"] gets the parse_wrk
# fields, then the server's CPU (in CPUs), its CPU microseconds per request
# and wrk's CPU (in CPUs).
declare -A res=()
measure() {
  local s=$1 i=$2 out=$tmp/wrk-$1-$2.out spids t0 t1 w0 w1 line
  spids=$(server_pids "$s")
  # shellcheck disable=SC2086
  t0=$(cpu_ticks $spids); children_ticks; w0=$wticks
  run_wrk "$s" "$duration" "$out"
  # shellcheck disable=SC2086
  t1=$(cpu_ticks $spids); children_ticks; w1=$wticks
  line=$(parse_wrk "$out")
  res["$s $i"]="$line $(awk -v t="$((t1 - t0))" -v w="$((w1 - w0))" -v hz="$hz" -v d="$duration" \
    -v n="$(awk '{ print $5 }' <<<"$line")" \
    'BEGIN { printf "%.2f %.1f %.2f", t / hz / d, (n > 0 ? t / hz * 1e6 / n : 0), w / hz / d }')"
  [ -z "$raw" ] || cp "$out" "$raw/"
  read -r rps p50 p90 p99 n bad err scpu us wcpu <<<"${res["$s $i"]}"
  echo "run $i $s: $rps req/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, non-2xx $bad," \
    "socket errors $err; server $scpu CPUs ($us us/request), wrk $wcpu CPUs" >&2
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
[ -z "$raw" ] || mkdir -p "$raw"

if [ "$warmup" -gt 0 ]; then
  for s in "${servers[@]}"; do
    echo "warm-up: $s, ${warmup}s" >&2
    run_wrk "$s" "$warmup" "$tmp/warmup.out"
  done
fi
for ((i = 1; i <= runs; i++)); do
  for s in "${servers[@]}"; do
    measure "$s" "$i"
  done
done

# /count: a durable kv write per request, measured alone (nginx has no
# equivalent). The counter's value afterwards must be at least the number of
# answers wrk counted (requests under way when wrk stopped count too).
count_before=
if [ "$count_runs" -gt 0 ]; then
  if [ -n "$count_replicas" ]; then
    "$tmp/bin/shoalctl" scale hello/visits --replicas "$count_replicas" >/dev/null ||
      die "shoalctl scale hello/visits failed"
    for ((k = 0; k < 100; k++)); do
      "$tmp/bin/shoalctl" describe actor hello/visits 2>/dev/null |
        grep -q "^Replicas: *$count_replicas desired, $count_replicas ready" && break
      sleep 0.1
    done
    [ "$k" -lt 100 ] || die "hello/visits did not reach $count_replicas ready replicas within 10 s"
  fi
  count_before=$(curl -s --max-time 5 "$(url_of count)")
  for ((i = 1; i <= count_runs; i++)); do
    measure count "$i"
  done
  count_after=$(curl -s --max-time 5 "$(url_of count)")
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The cost of one synchronous 4 KiB write on the data directory's file
# system: what a kv commit (SQLite WAL, synchronous=FULL) waits for at least.
fsync_probe() {
  local t
  t=$( { dd if=/dev/zero of="$tmp/data/fsync-probe" bs=4096 count=200 oflag=dsync 2>&1 >/dev/null; } |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }')
  rm -f "$tmp/data/fsync-probe"
  awk -v t="$t" 'BEGIN { if (t > 0) printf "%.3f", t / 200 * 1000; else print "n/a" }'
}
fsync_ms=$(fsync_probe)

# --- report ---------------------------------------------------------------------------
# column SERVER FIELD NRUNS: the median of one parse_wrk field over the runs.
column() {
  local s=$1 f=$2 n=$3 i
  for ((i = 1; i <= n; i++)); do
    awk -v f="$f" '{ print $f }' <<<"${res["$s $i"]}"
  done | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}
total() { # total SERVER FIELD NRUNS
  local i
  for ((i = 1; i <= $3; i++)); do awk -v f="$2" '{ print $f }' <<<"${res["$1 $i"]}"; done |
    awk '{ t += $1 } END { print t + 0 }'
}
spread() { # spread SERVER NRUNS: (max - min) / median of requests/s, in %
  local i
  for ((i = 1; i <= $2; i++)); do awk '{ print $1 }' <<<"${res["$1 $i"]}"; done | sort -g |
    awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.0f", (m > 0 ? (v[NR] - v[1]) / m * 100 : 0) }'
}
label() {
  case $1 in
    shoal) echo "shoal (greeter)" ;;
    count) echo "shoal /count (kv incr)" ;;
    nginx*) echo "nginx, ${1#nginx} worker$([ "${1#nginx}" = 1 ] || echo s)" ;;
  esac
}

build_info() { # where the shoald came from, as far as the build directory tells
  local src bt rev
  src=$(grep -o '"source": "[^"]*"' "$build_dir/meson-info/meson-info.json" 2>/dev/null |
    sed 's/.*: "//; s/"$//')
  bt=$(grep -o '"name": "buildtype", "value": "[^"]*"' "$build_dir/meson-info/intro-buildoptions.json" 2>/dev/null |
    sed 's/.*"value": "//; s/"$//')
  if [ -z "$src" ]; then
    rev="no meson-info: source unknown"
  elif rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null); then
    git -C "$src" diff --quiet HEAD -- node capabilities actor-runtime 2>/dev/null ||
      rev="$rev, with node/, capabilities/ or actor-runtime/ modified"
    rev="$src at $rev"
  else
    rev="$src, not a git checkout"
  fi
  echo "$build_dir ($rev); meson buildtype ${bt:-unknown}"
}

table_head() {
  echo "| server | requests/s | p50 | p90 | p99 | spread of req/s | server CPU | CPU µs per request | wrk CPU | non-2xx | socket errors |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
}
table_row() { # table_row SERVER NRUNS
  printf '| %s | %.0f | %.2f | %.2f | %.2f | %s%% | %.2f | %.1f | %.2f | %s | %s |\n' "$(label "$1")" \
    "$(column "$1" 1 "$2")" "$(column "$1" 2 "$2")" "$(column "$1" 3 "$2")" "$(column "$1" 4 "$2")" \
    "$(spread "$1" "$2")" "$(column "$1" 8 "$2")" "$(column "$1" 9 "$2")" "$(column "$1" 10 "$2")" \
    "$(total "$1" 6 "$2")" "$(total "$1" 7 "$2")"
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "# Shoal HTTP benchmark"
echo "# date:     $started"
echo "# machine:  $(uname -m), $ncpu CPUs online, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# load:     $load_before before, $load_after after (1, 5, 15 min)"
echo "# pinning:  $pinned"
echo "# wrk:      $(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }'), -t$threads -c$connections -d${duration}s --latency," \
  "$runs runs per server alternating, after a ${warmup}s warm-up each"
echo "# shoald:   $shoald_src (sha256 $shoald_sum...), --workers $shoald_workers," \
  "$shoal_threads threads; the hello application, greeter with its 2 replicas"
echo "# build:    $(build_info)"
echo "# nginx:    $("$nginx_bin" -v 2>&1 | sed 's/.*: //'), master + worker_processes $nginx_workers," \
  "return 200 from the configuration, access_log off"
echo "# response: body $body_len bytes; whole response $(resp_bytes shoal) bytes from shoald," \
  "$(for w in $nginx_workers; do printf '%s ' "$(resp_bytes "nginx$w")"; done)from nginx"
echo
echo "Medians of $runs runs (latencies in ms; server CPU and wrk CPU in CPUs, 1.00 = one CPU busy):"
echo
table_head
for s in "${servers[@]}"; do table_row "$s" "$runs"; done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
goal_rps=yes goal_p99=yes
for w in $nginx_workers; do
  s=nginx$w
  echo "shoal / $(label "$s"): requests/s $(ratio "$(column shoal 1 "$runs")" "$(column "$s" 1 "$runs")")," \
    "p50 $(ratio "$(column shoal 2 "$runs")" "$(column "$s" 2 "$runs")")," \
    "p90 $(ratio "$(column shoal 3 "$runs")" "$(column "$s" 3 "$runs")")," \
    "p99 $(ratio "$(column shoal 4 "$runs")" "$(column "$s" 4 "$runs")")," \
    "CPU per request $(ratio "$(column shoal 9 "$runs")" "$(column "$s" 9 "$runs")")"
  awk -v a="$(column shoal 1 "$runs")" -v b="$(column "$s" 1 "$runs")" 'BEGIN { exit !(a >= b / 2) }' || goal_rps=no
done
awk -v p="$(column shoal 4 "$runs")" 'BEGIN { exit !(p < 10) }' || goal_p99=no
echo "goal: at least half of nginx's requests/s: $goal_rps; p99 under 10 ms: $goal_p99 (medians, $connections connections)"

if [ "$count_runs" -gt 0 ]; then
  echo
  visits_replicas=${count_replicas:-1}
  echo "/count alone, hello/visits with $visits_replicas replica(s), medians of $count_runs" \
    "runs (every answer is a committed kv write):"
  echo
  table_head
  table_row count "$count_runs"
  echo
  answered=$(total count 5 "$count_runs")
  # Between the two GETs the counter rose by what wrk's runs sent: the
  # answers it counted plus at most one request per connection under way
  # when each run stopped.
  extra=$((count_after - count_before - 1 - answered))
  verdict=consistent
  if [ "$extra" -lt 0 ]; then verdict="INCONSISTENT: fewer increments than answers"
  elif [ "$extra" -gt $((count_runs * connections)) ]; then verdict="INCONSISTENT: more increments than requests sent"
  fi
  echo "counter: $count_before before, $count_after after (both GETs included); wrk counted" \
    "$answered answers, $extra fewer than the increments (at most $((count_runs * connections))" \
    "were under way when the runs stopped): $verdict"
  echo "one synchronous 4 KiB write (dd oflag=dsync) on the data directory" \
    "($(stat -f -c %T "$tmp/data"), TMPDIR=${TMPDIR:-/tmp}): $fsync_ms ms," \
    "so at most $(awk -v f="$fsync_ms" 'BEGIN { if (f > 0) printf "%.0f", 1000 / f; else print "n/a" }')" \
    "commits/s; kv commits up to 64 waiting requests at once"
fi
