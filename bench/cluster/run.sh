#!/usr/bin/env bash
# The cluster benchmark: shoald processes on loopback, driven by shoalctl.
# See docs/benchmarks.md, "Cluster".
#
#   failover     5 nodes, an application of R replicas spread over them;
#                kill -9 of the node running a chosen replica: when the
#                survivors hold it suspect and dead, when the replica (and
#                every replica the node held) runs again elsewhere; the
#                node is restarted and the cluster settles between rounds.
#   pingpong     two nodes (labels zone=a, zone=b), a pingpong actor on each
#                (examples/actors/pingpong.c) playing a rally of casts
#                across the wire; side by side with the same rally between
#                two Erlang nodes (cluster_pp.erl) over Erlang
#                distribution, in turns. Unpinned, both nodes on one CPU,
#                and one CPU each (taskset).
#   convergence  20 nodes (--workers 1) started at once, joining one seed:
#                time from the first start until every node sees 20 alive.
#
# It builds nothing: it runs node/shoald, ctl/shoalctl and
# examples/actors/{echo,pingpong}.wasm of a built tree (--build-dir, or
# $SHOAL_BUILD), copied first so that a rebuild during the run changes
# nothing. `ninja -C BUILD bench-cluster` builds those and runs this.
#
# It starts every process it stops and stops only those, by PID, also on
# Ctrl-C; every wait is bounded; everything listens on 127.0.0.1 (Erlang's
# epmd, started here on a port of its own, also on ::1). Logs and raw
# figures go to a temporary directory, removed at exit unless --raw.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
usage: bench/cluster/run.sh [options]

  --build-dir DIR          built tree (default: $SHOAL_BUILD, else build)
  --only LIST              some of failover,pingpong,convergence (default all)
  --failover-rounds N      kill -9 rounds (default 5)
  --failover-replicas R    replicas of the failover application (default 10)
  --round-trips N          round trips per rally (default 20000)
  --pp-runs N              rallies per side and pinning (default 5)
  --pp-pin LIST            some of none,same,two (default all three):
                           unpinned; both nodes on CPU 0; node 1 on CPU 0,
                           node 2 on CPU 1
  --convergence-nodes N    nodes of the convergence runs (default 20)
  --convergence-runs N     (default 3)
  --raw DIR                keep the logs and raw figures in DIR
  -h, --help               this text
EOF
}

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/cluster
build_dir=${SHOAL_BUILD:-build}
only=failover,pingpong,convergence
fo_rounds=5
fo_replicas=10
round_trips=20000
pp_runs=5
pp_pins=none,same,two
conv_nodes=20
conv_runs=3
raw=

die() { echo "run.sh: $*" >&2; exit 1; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive integer, got '$2'"; }

while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --failover-rounds) fo_rounds=$2; shift 2 ;;
    --failover-replicas) fo_replicas=$2; shift 2 ;;
    --round-trips) round_trips=$2; shift 2 ;;
    --pp-runs) pp_runs=$2; shift 2 ;;
    --pp-pin) pp_pins=$2; shift 2 ;;
    --convergence-nodes) conv_nodes=$2; shift 2 ;;
    --convergence-runs) conv_runs=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for o in fo_rounds fo_replicas round_trips pp_runs conv_nodes conv_runs; do
  posint "$o" "${!o}"
done
[ "$fo_replicas" -ge 5 ] || die "--failover-replicas wants at least 5 (one per node)"
[ "$conv_nodes" -ge 2 ] || die "--convergence-nodes wants at least 2"
for s in ${only//,/ }; do
  [[ $s =~ ^(failover|pingpong|convergence)$ ]] || die "--only: unknown '$s'"
done
for p in ${pp_pins//,/ }; do
  [[ $p =~ ^(none|same|two)$ ]] || die "--pp-pin: unknown '$p'"
done
wants() { [[ ,$only, == *,$1,* ]]; }
[[ $build_dir == /* ]] || build_dir=$root/$build_dir

# --- what it needs -----------------------------------------------------------
for f in node/shoald ctl/shoalctl examples/actors/echo.wasm examples/actors/pingpong.wasm; do
  [ -e "$build_dir/$f" ] || die "no $build_dir/$f: this script builds nothing; build the
  tree first (ninja -C BUILD bench-cluster does both), or point --build-dir or
  SHOAL_BUILD at a built one"
done
command -v python3 >/dev/null || die "python3 is needed"
if wants pingpong; then
  for c in erl erlc epmd; do command -v $c >/dev/null || die "$c not found: install erlang-base"; done
  if [[ ,$pp_pins, == *,same,* || ,$pp_pins, == *,two,* ]]; then
    command -v taskset >/dev/null || die "pinning needs taskset (util-linux); or --pp-pin none"
    taskset -c 0 true 2>/dev/null || die "cannot pin to CPU 0"
    if [[ ,$pp_pins, == *,two,* ]]; then
      taskset -c 1 true 2>/dev/null || die "cannot pin to CPU 1; try --pp-pin none,same"
    fi
  fi
fi

# --- temporary directory, processes, clean-up -------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-cluster.XXXXXX")
started_pids=() # every process this script started
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
    stop_pid "${started_pids[$i]}" 2>/dev/null || true
  done
  if [ -n "$raw" ]; then
    mkdir -p "$raw"
    cp -r "$tmp"/logs "$tmp"/figures "$raw"/ 2>/dev/null || true
    echo "run.sh: logs and raw figures in $raw" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { # alive PID: running and not a zombie
  kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# stop_pid PID: TERM, up to 10 s for it to exit, then KILL.
stop_pid() {
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "run.sh: PID $pid did not stop within 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# stop_all PID...: TERM to all at once, then each as stop_pid.
stop_all() {
  local pid
  for pid in "$@"; do
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "$@"; do stop_pid "$pid"; done
}

mkdir -p "$tmp/bin" "$tmp/app" "$tmp/logs" "$tmp/figures" "$tmp/erl"
cp "$build_dir/node/shoald" "$build_dir/ctl/shoalctl" "$tmp/bin/"
cp "$build_dir/examples/actors/echo.wasm" "$build_dir/examples/actors/pingpong.wasm" "$tmp/app/"
cp "$here/watch.py" "$tmp/bin/"
export SHOALCTL=$tmp/bin/shoalctl
watch() { python3 "$tmp/bin/watch.py" "$@"; }
ctl() { local addr=$1; shift; "$SHOALCTL" --node "$addr" "$@"; }
now_ns() { date +%s%N; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# value KEY FILE: the value of a `key value` line.
value() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# Nodes of the current set: control and wire ports, PIDs, logs.
declare -a cport wport npid nlog
# start_node SET I PIN_CMD WORKERS LOGLEVEL [shoald options...]: starts node
# I of SET in the background (data in $tmp/SET/dI, log $tmp/logs/SET-I.log).
start_node() {
  local set=$1 i=$2 pin=$3 workers=$4 level=$5
  shift 5
  mkdir -p "$tmp/$set"
  nlog[i]=$tmp/logs/$set-$i.log
  # shellcheck disable=SC2086
  $pin "$tmp/bin/shoald" --data-dir "$tmp/$set/d$i" \
    --listen "127.0.0.1:${cport[$i]}" --cluster-listen "127.0.0.1:${wport[$i]}" \
    --workers "$workers" --log-level "$level" "$@" 2>>"${nlog[$i]}" &
  npid[i]=$!
  started_pids+=("${npid[$i]}")
}
# wait_up I: until node I answers (10 s at most).
wait_up() {
  local i=$1 k
  for ((k = 0; k < 100; k++)); do
    ctl "127.0.0.1:${cport[$i]}" --timeout 1s version >/dev/null 2>&1 && return 0
    alive "${npid[$i]}" || { tail -n 20 "${nlog[$i]}" >&2; die "node $i exited at start"; }
    sleep 0.1
  done
  tail -n 20 "${nlog[$i]}" >&2
  die "node $i did not answer within 10 s"
}
# ports K: K free loopback ports into cport[1..K] and wport[1..K].
ports() {
  local k=$1 p i
  read -r -a p <<<"$(watch ports $((2 * k)))"
  for ((i = 1; i <= k; i++)); do
    cport[i]=${p[$((2 * i - 2))]}
    wport[i]=${p[$((2 * i - 1))]}
  done
}
ctl_addrs() { local i; for ((i = 1; i <= $1; i++)); do echo "127.0.0.1:${cport[$i]}"; done; }

# median and max of the numbers on stdin ("n/a" when none).
median() {
  grep -E '^-?[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maximum() { grep -E '^-?[0-9.]+$' | sort -g | tail -n1 | grep . || echo n/a; }
# column FILE KEY: every value of KEY in FILE (one `key value` line per run).
column() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- failover -----------------------------------------------------------------
failover() {
  local n=5 i r k victim via t0 f
  echo "== failover: $n nodes, $fo_replicas replicas, $fo_rounds rounds" >&2
  ports $n
  for ((i = 1; i <= n; i++)); do
    local join=()
    [ "$i" = 1 ] || join=(--join "127.0.0.1:${wport[1]}")
    start_node fo "$i" "" 1 debug "${join[@]}"
  done
  for ((i = 1; i <= n; i++)); do wait_up "$i"; done
  # shellcheck disable=SC2046
  watch wait-alive --want $n --timeout 30 $(ctl_addrs $n) >/dev/null
  declare -a name
  for ((i = 1; i <= n; i++)); do name[i]=$(watch name "127.0.0.1:${cport[$i]}"); done
  cat >"$tmp/app/fo.yaml" <<EOF
apiVersion: shoal/v1
kind: Application
metadata: { name: fo }
spec:
  actors:
    - name: echo
      module: ./echo.wasm
      replicas: $fo_replicas
      placement: { spread: true }
EOF
  ctl "127.0.0.1:${cport[1]}" apply -f "$tmp/app/fo.yaml" --wait-timeout 30s >/dev/null ||
    die "apply of the failover application failed"
  # shellcheck disable=SC2046
  watch wait-rollout --app fo --ready "$fo_replicas" --timeout 30 $(ctl_addrs $n)
  f=$tmp/figures/failover
  : >"$f"
  for ((r = 1; r <= fo_rounds; r++)); do
    k=$(((r - 1) % fo_replicas))
    local vname
    vname=$(watch replica-node "127.0.0.1:${cport[1]}" fo echo "$k")
    victim=0
    for ((i = 1; i <= n; i++)); do [ "${name[$i]}" = "$vname" ] && victim=$i; done
    [ "$victim" != 0 ] || die "replica $k runs on $vname, not one of ours"
    via=$((victim % n + 1))
    local logs=()
    for ((i = 1; i <= n; i++)); do
      [ "$i" = "$victim" ] || logs+=("${nlog[$i]}:$(size_of "${nlog[$i]}")")
    done
    t0=$(now_ns)
    kill -KILL "${npid[$victim]}"
    wait "${npid[$victim]}" 2>/dev/null || true
    watch failover --via "127.0.0.1:${cport[$via]}" --victim "$vname" --app fo \
      --actor echo --index "$k" --replicas "$fo_replicas" --t0 "$t0" --timeout 30 \
      "${logs[@]}" >"$tmp/figures/failover.$r"
    cat "$tmp/figures/failover.$r" >>"$f"
    echo "round $r: killed node $victim ($vname), running replica $k:" \
      "suspect $(value log_suspect_first_ms "$tmp/figures/failover.$r") ms," \
      "dead at all $(value log_dead_all_ms "$tmp/figures/failover.$r") ms," \
      "replica started $(value log_replica_started_ms "$tmp/figures/failover.$r") ms," \
      "seen running through node $via $(value poll_replica_running_ms "$tmp/figures/failover.$r") ms" >&2
    # Back to five: the node restarts with its data directory (its name),
    # rejoins, and its replicas come back; then a second of quiet.
    start_node fo "$victim" "" 1 debug --join "127.0.0.1:${wport[$via]}"
    wait_up "$victim"
    # shellcheck disable=SC2046
    watch wait-alive --want $n --timeout 30 $(ctl_addrs $n) >/dev/null
    # shellcheck disable=SC2046
    watch wait-rollout --app fo --ready "$fo_replicas" --timeout 30 $(ctl_addrs $n)
    sleep 1
  done
  stop_all "${npid[@]:1:$n}"
}

# --- cross-node ping-pong -----------------------------------------------------
pp_manifest() { # pp_manifest APP ACTOR ZONE INIT
  cat <<EOF
apiVersion: shoal/v1
kind: Application
metadata: { name: $1 }
spec:
  actors:
    - name: $2
      module: ./pingpong.wasm
      restart: never
      init: $4
      placement: { labels: { zone: $3 } }
EOF
}

# shoal_rally OUT: one rally between the two nodes: pp-a/a on node 1 waits,
# pp-b/b on node 2 serves 2 x round_trips; both exit when the ball 0 is
# played. Timed from b's start to the later exit, from the nodes' logs.
# Both applications are applied through node 1: a node stores an
# application (SQLite, synchronous) on its loop thread before it passes it
# on, so node 1 has stored pp-b before node 2 hears of it, and node 2
# before it starts b; no disk write holds up either loop (and its gossip)
# during the rally. A rally that breaks is counted, not timed.
shoal_rally() {
  local out=$1 a1=127.0.0.1:${cport[1]} id o1 o2 k
  pp_manifest pp-a a a '{ stay: false }' >"$tmp/app/pp-a.yaml"
  ctl "$a1" apply -f "$tmp/app/pp-a.yaml" --wait-timeout 20s >/dev/null || die "apply pp-a failed"
  # Asked of node 1, which runs it: another node learns of it by gossip,
  # and until then may still show the a of the previous rally.
  id=
  for ((k = 0; k < 50; k++)); do
    id=$(watch actor-id "$a1" pp-a a 2>/dev/null) && [ "$id" != "$last_a_id" ] && break
    id=
    sleep 0.1
  done
  [ -n "$id" ] || die "pp-a/a is not running on node 1"
  last_a_id=$id
  pp_manifest pp-b b b "{ peer: $id, count: $((2 * round_trips)), stay: false }" >"$tmp/app/pp-b.yaml"
  o1=$(size_of "${nlog[1]}")
  o2=$(size_of "${nlog[2]}")
  local before after
  before=$(proc_costs "${npid[1]}" "${npid[2]}")
  ctl "$a1" apply -f "$tmp/app/pp-b.yaml" --no-wait >/dev/null || die "apply pp-b failed"
  if ! watch rally --start "${nlog[2]}:$o2:pp-b/b/0" --end "${nlog[1]}:$o1:pp-a/a/0" \
    --end "${nlog[2]}:$o2:pp-b/b/0" --timeout $((60 + round_trips / 500)) >"$out.rally" \
    2>"$out.err"; then
    cat "$out.err" >&2
    {
      echo "failed 1"
      echo "why $(sed 's/^watch.py: //; s/ /_/g' "$out.err" | head -n1)"
    } >"$out"
    # What the nodes said about each other meanwhile.
    grep -h 'component=cluster msg="member' "${nlog[1]}" "${nlog[2]}" | tail -n 6 >&2 || true
  else
    after=$(proc_costs "${npid[1]}" "${npid[2]}")
    awk -v n="$round_trips" -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" '
      $1 == "rally_ms" {
        split(b, x); split(a, y)
        printf "rt_per_s %.1f\nrt_us %.3f\n", n / ($2 / 1000), $2 * 1000 / n
        printf "cpu_us_per_rt %.1f\nswitches_per_rt %.1f\n", (y[1] - x[1]) / hz * 1e6 / n, (y[2] - x[2]) / n
      }' "$out.rally" >"$out"
  fi
  ctl "$a1" delete app pp-b >/dev/null
  ctl "$a1" delete app pp-a >/dev/null
}

# proc_costs PID...: "TICKS SWITCHES": the processes' user+system clock
# ticks and their threads' context switches (voluntary and not) so far.
proc_costs() {
  local p t=0 s=0 x
  for p in "$@"; do
    x=$(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')
    t=$((t + x))
    x=$(cat /proc/"$p"/task/*/status 2>/dev/null |
      awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }')
    s=$((s + x))
  done
  echo "$t $s"
}

last_a_id=
pingpong() {
  local pin=$1 pin1="" pin2="" workers=2 erl_s=2 i r epmd_port erl_a epmd_pid
  case $pin in
    same) pin1="taskset -c 0" pin2="taskset -c 0" workers=1 erl_s=1 ;;
    two) pin1="taskset -c 0" pin2="taskset -c 1" workers=1 erl_s=1 ;;
  esac
  echo "== pingpong, pinning: $pin" >&2
  ports 2
  start_node "pp-$pin" 1 "$pin1" "$workers" debug --label zone=a
  start_node "pp-$pin" 2 "$pin2" "$workers" debug --label zone=b --join "127.0.0.1:${wport[1]}"
  wait_up 1
  wait_up 2
  # shellcheck disable=SC2046
  watch wait-alive --want 2 --timeout 30 $(ctl_addrs 2) >/dev/null

  # Erlang: our own epmd on a port of its own (so that no daemon outlives
  # the run), node a serving, a node b per run playing the rally.
  read -r epmd_port <<<"$(watch ports 1)"
  epmd -port "$epmd_port" -address 127.0.0.1 >"$tmp/logs/epmd-$pin.log" 2>&1 &
  epmd_pid=$!
  started_pids+=("$epmd_pid")
  local erl_common=(-setcookie shoalbench -noshell -start_epmd false
    -kernel inet_dist_use_interface '{127,0,0,1}' -pa "$tmp/erl" +S "$erl_s:$erl_s")
  for ((i = 0; i < 50; i++)); do
    ERL_EPMD_PORT=$epmd_port epmd -port "$epmd_port" -names >/dev/null 2>&1 && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  ERL_EPMD_PORT=$epmd_port $pin1 erl -sname "ppa$$@localhost" "${erl_common[@]}" \
    >"$tmp/logs/erl-a-$pin.log" 2>&1 &
  erl_a=$!
  started_pids+=("$erl_a")

  local f=$tmp/figures/pp-$pin
  : >"$f.shoal"
  : >"$f.erlang"
  for ((r = 1; r <= pp_runs; r++)); do
    shoal_rally "$f.shoal.$r"
    sed 's/^/shoal_/' "$f.shoal.$r" >>"$f.shoal"
    # shellcheck disable=SC2086
    ERL_EPMD_PORT=$epmd_port timeout 300 $pin2 erl -sname "ppb$$-$r@localhost" "${erl_common[@]}" \
      -run cluster_pp main "ppa$$@localhost" "$round_trips" 1 \
      >"$f.erlang.$r" 2>"$tmp/logs/erl-b-$pin-$r.log" || {
      tail -n 5 "$tmp/logs/erl-b-$pin-$r.log" >&2
      die "the Erlang rally failed"
    }
    awk '$1 == "RESULT" { print "erlang_" $2, $3 }' "$f.erlang.$r" >>"$f.erlang"
    local rate
    rate=$(value rt_per_s "$f.shoal.$r")
    echo "run $r ($pin): shoal ${rate:-(broke)} round trips/s," \
      "erlang $(awk '$2 == "rt_per_s" { print $3 }' "$f.erlang.$r")" >&2
  done
  stop_all "${npid[1]}" "${npid[2]}" "$erl_a"
  stop_pid "$epmd_pid"
}

# --- convergence --------------------------------------------------------------
convergence() {
  local n=$conv_nodes r i t0 t_last f=$tmp/figures/convergence
  : >"$f"
  for ((r = 1; r <= conv_runs; r++)); do
    echo "== convergence: $n nodes, run $r" >&2
    ports "$n"
    t0=$(now_ns)
    for ((i = 1; i <= n; i++)); do
      local join=()
      [ "$i" = 1 ] || join=(--join "127.0.0.1:${wport[1]}")
      start_node "conv-$r" "$i" "" 1 info "${join[@]}"
    done
    t_last=$(now_ns)
    # shellcheck disable=SC2046
    watch wait-alive --want "$n" --timeout 60 $(ctl_addrs "$n") >"$f.$r.poll"
    local logs=()
    for ((i = 1; i <= n; i++)); do logs+=("${nlog[$i]}"); done
    watch convergence --want "$n" --t0 "$t0" "${logs[@]}" >"$f.$r"
    awk -v t0="$t0" -v tl="$t_last" '$1 == "all" {
      printf "poll_all_ms %.1f\nstarts_ms %.1f\n", ($2 - t0) / 1e6, (tl - t0) / 1e6 }' \
      "$f.$r.poll" >>"$f.$r"
    cat "$f.$r" >>"$f"
    echo "run $r: all $n see $n alive after $(value log_all_ms "$f.$r") ms (logs)," \
      "$(value poll_all_ms "$f.$r") ms (polls); starting them took $(value starts_ms "$f.$r") ms" >&2
    stop_all "${npid[@]:1:$n}"
  done
}

# --- run --------------------------------------------------------------------
if wants pingpong; then
  erlc -o "$tmp/erl" "$here/cluster_pp.erl"
fi
wants failover && failover
if wants pingpong; then
  for p in ${pp_pins//,/ }; do pingpong "$p"; done
fi
wants convergence && convergence
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------
build_info() {
  local rev
  if rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
    git -C "$root" diff --quiet HEAD -- node scheduler actor-runtime 2>/dev/null ||
      rev="$rev, with node/, scheduler/ or actor-runtime/ modified"
  else
    rev="not a git checkout"
  fi
  echo "$build_dir (source $rev)"
}
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b != "n/a" && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "n/a") print v; else printf f "\n", v }'; }

echo "# Shoal cluster benchmark"
echo "# date:    $started"
echo "# machine: $(uname -m), $(getconf _NPROCESSORS_ONLN) CPUs online, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# load:    $load_before before, $load_after after (1, 5, 15 min)"
echo "# build:   $(build_info)"
if wants pingpong; then
  echo "# erlang:  OTP $(erl -noshell -eval 'io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().')"
fi
echo

if wants failover; then
  f=$tmp/figures/failover
  echo "Failover: 5 nodes (gossip period 200 ms, suspect timeout 1 s, --workers 1), $fo_replicas replicas"
  echo "of one actor spread over them, kill -9 of the node running replica k (k = round - 1);"
  echo "$fo_rounds rounds, milliseconds after the kill. 'log' times are the survivors' log stamps,"
  echo "'poll' times what a client polling one survivor with shoalctl (~10 ms apart) saw."
  echo
  echo "| what | median ms | max ms | reference |"
  echo "| --- | ---: | ---: | --- |"
  frow() { # frow LABEL KEY REFERENCE
    printf '| %s | %s | %s | %s |\n' "$1" "$(fmt "$(column "$f" "$2" | median)" %.0f)" \
      "$(fmt "$(column "$f" "$2" | maximum)" %.0f)" "$3"
  }
  frow "a survivor holds it suspect (log)" log_suspect_first_ms ""
  frow "a survivor holds it dead (log)" log_dead_first_ms ""
  frow "all four survivors hold it dead (log)" log_dead_all_ms "Erlang: 45,000-75,000 (net_ticktime 60 s); wasmCloud: ~70,000"
  frow "the replica started on a survivor (log)" log_replica_started_ms ""
  frow "every replica of the dead node started elsewhere (log)" log_all_started_ms ""
  frow "seen suspect through a survivor (poll)" poll_suspect_ms ""
  frow "seen dead through a survivor (poll)" poll_dead_ms ""
  frow "the replica seen running elsewhere (poll)" poll_replica_running_ms ""
  frow "all $fo_replicas replicas seen running (poll)" poll_all_running_ms "goal: 3,000"
  worst=$(column "$f" poll_all_running_ms | maximum)
  echo
  echo "goal: failure detected and the dead node's replicas running again within 3 s (every round, polled):" \
    "$(awk -v w="$worst" 'BEGIN { print (w != "n/a" && w <= 3000) ? "met" : "NOT met" }') (worst $(fmt "$worst" %.0f) ms)"
  echo
fi

if wants pingpong; then
  echo "Cross-node ping-pong: a rally of $round_trips round trips (2 x $round_trips casts) between"
  echo "an actor on each of two nodes; Erlang: between a process on each of two nodes. Medians of"
  echo "$pp_runs rallies per side, taken in turns. Latency is the mean round trip, 1 / rate. Shoal's"
  echo "CPU time and context switches are both shoald processes' (all threads) over the rally."
  echo
  echo "| pinning | Shoal round trips/s | Erlang round trips/s | Shoal/Erlang | Shoal µs per round trip | Erlang µs per round trip | Shoal CPU µs per round trip | Shoal context switches per round trip |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  goal_pp=met
  for p in ${pp_pins//,/ }; do
    f=$tmp/figures/pp-$p
    case $p in
      none) label="not pinned (2 workers, +S 2)" ;;
      same) label="both nodes on CPU 0 (1 worker, +S 1)" ;;
      two) label="node 1 on CPU 0, node 2 on CPU 1 (1 worker, +S 1 each)" ;;
    esac
    s=$(column "$f.shoal" shoal_rt_per_s | median)
    e=$(column "$f.erlang" erlang_rt_per_s | median)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(fmt "$s" %.0f)" "$(fmt "$e" %.0f)" \
      "$(ratio "$s" "$e")" "$(fmt "$(column "$f.shoal" shoal_rt_us | median)" %.1f)" \
      "$(fmt "$(column "$f.erlang" erlang_rt_us | median)" %.1f)" \
      "$(fmt "$(column "$f.shoal" shoal_cpu_us_per_rt | median)" %.1f)" \
      "$(fmt "$(column "$f.shoal" shoal_switches_per_rt | median)" %.1f)"
    awk -v s="$s" -v e="$e" 'BEGIN { exit !(s != "n/a" && e != "n/a" && s >= e) }' || goal_pp="NOT met"
  done
  echo
  for p in ${pp_pins//,/ }; do
    nf=$(column "$tmp/figures/pp-$p.shoal" shoal_failed | wc -l)
    [ "$nf" = 0 ] || echo "pinning $p: $nf of $pp_runs Shoal rallies broke ($(column "$tmp/figures/pp-$p.shoal" shoal_why | sort | uniq -c | tr -s ' ' | tr '\n' ';')); the medians are of the others"
  done
  echo "goal: cross-node round trips at least Erlang's (medians, every pinning): $goal_pp"
  echo
fi

if wants convergence; then
  f=$tmp/figures/convergence
  echo "Convergence: $conv_nodes nodes (--workers 1) started back to back, all joining node 1;"
  echo "milliseconds from the first start. Runs: $(column "$f" log_all_ms | tr '\n' ' ')(logs)."
  echo
  echo "| what | median ms | max ms |"
  echo "| --- | ---: | ---: |"
  crow() { printf '| %s | %s | %s |\n' "$1" "$(fmt "$(column "$f" "$2" | median)" %.0f)" "$(fmt "$(column "$f" "$2" | maximum)" %.0f)"; }
  crow "all $conv_nodes started (fork of the last)" starts_ms
  crow "a first node sees all $conv_nodes alive (log)" log_first_ms
  crow "every node sees all $conv_nodes alive (log)" log_all_ms
  crow "every node sees all $conv_nodes alive (poll)" poll_all_ms
fi
