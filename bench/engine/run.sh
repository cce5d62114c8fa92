#!/usr/bin/env bash
# Engine benchmark: runs the shared benchmark kernels natively, under shoal-run
# with fuel off and on, and under wasm3 when one is given, and prints tables of
# median wall-clock and CPU times. Every run must print the same stdout as the
# native build; a difference, a non-zero exit or a crash stops the benchmark.
# The wall-clock table is the headline; the CPU table (user+system of the
# child) is steadier on a shared machine, where wall time includes waiting.
#
# The runners are interleaved within each iteration (native, shoal without
# fuel, shoal with fuel, wasm3, then again), so slow drift of the machine hits
# every column alike. When taskset works, the whole script is pinned to one CPU
# and every runner inherits that affinity; no extra process sits in the timed
# region.
#
# wasm3 is not part of this repository: pass the path of an already built
# binary in WASM3 or with --wasm3. Without one the wasm3 columns show n/a.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
usage: bench/engine/run.sh [options]

  -n, --runs N        timed runs per kernel and runner (default 5)
  -k, --kernels LIST  space- or comma-separated kernels (default: fib sieve crc qsort empty)
  --size K=ARG        size argument for kernel K (repeatable; default: the kernel's own)
  --fuel N            fuel given to the "fuel on" runner (default 1000000)
  --build-dir DIR     meson build directory (default: build)
  --shoal PATH        shoal-run binary (default: $SHOAL_RUN or DIR/actor-runtime/run/shoal-run)
  --wasm3 PATH        wasm3 binary (default: $WASM3); omitted when absent
  --kernel-src DIR    kernel sources (default: $BENCH_KERNELS or /work/shared/bench/kernels)
  --cpu N             CPU to pin to with taskset (default 1); --no-pin to not pin
  --warmup N          untimed runs per kernel and runner before timing (default 1)
  --timeout S         CPU-seconds limit per run (default 300)
  --raw FILE          also write every timed run as CSV (kernel,runner,run,wall_s,cpu_s)
  --keep-going        report a failing runner as FAIL in the table instead of stopping
  -h, --help          this text

Environment: CLANG (default clang) compiles the kernels, natively with -O2 and
to wasm32-wasi with -O2 -Wl,-z,stack-size=1048576, as the kernels' Makefile does.
EOF
}

root=$(cd "$(dirname "$0")/../.." && pwd)
runs=5
kernels="fib sieve crc qsort empty"
fuel=1000000
build_dir=build
shoal=${SHOAL_RUN:-}
wasm3=${WASM3:-}
# wasm3 reads WASM3 itself (its --version then says "self-hosting"); keep it
# out of the runners' environment.
unset WASM3
kernel_src=${BENCH_KERNELS:-/work/shared/bench/kernels}
cpu=1
pin=1
warmup=1
timeout_s=300
raw=
keep_going=0
declare -A size=()

die() { echo "run.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    -n|--runs) runs=$2; shift 2 ;;
    -k|--kernels) kernels=${2//,/ }; shift 2 ;;
    --size) [[ $2 == *=* ]] || die "--size wants K=ARG"; size[${2%%=*}]=${2#*=}; shift 2 ;;
    --fuel) fuel=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --shoal) shoal=$2; shift 2 ;;
    --wasm3) wasm3=$2; shift 2 ;;
    --kernel-src) kernel_src=$2; shift 2 ;;
    --cpu) cpu=$2; pin=1; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --warmup) warmup=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --keep-going) keep_going=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup wants a non-negative integer"
[[ $fuel =~ ^[1-9][0-9]*$ ]] || die "--fuel wants a positive integer"
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
[ -n "$shoal" ] || shoal=$build_dir/actor-runtime/run/shoal-run
[ -f "$kernel_src/common.h" ] || die "no kernel sources in $kernel_src"

# --- build the kernels -------------------------------------------------------
# Into the build directory, never into the shared source folder.
clang=${CLANG:-clang}
kdir=$build_dir/bench/kernels
mkdir -p "$kdir/native" "$kdir/wasm"
cflags=(-O2 -std=c11 -Wall -Wextra)
wasm_flags=(--target=wasm32-wasi -O2 -std=c11 -Wall -Wextra "-Wl,-z,stack-size=1048576")

stale() { # stale OUT SRC...: OUT is missing or older than a source
  local out=$1; shift
  [ -e "$out" ] || return 0
  local s
  for s in "$@"; do [ "$s" -nt "$out" ] && return 0; done
  return 1
}

for k in $kernels; do
  src=$kernel_src/$k.c
  [ -f "$src" ] || die "unknown kernel '$k' (no $src)"
  if stale "$kdir/native/$k" "$src" "$kernel_src/common.h"; then
    "$clang" "${cflags[@]}" "$src" -o "$kdir/native/$k" || die "native build of $k failed"
  fi
  if stale "$kdir/wasm/$k.wasm" "$src" "$kernel_src/common.h"; then
    "$clang" "${wasm_flags[@]}" "$src" -o "$kdir/wasm/$k.wasm" || die "wasm build of $k failed"
  fi
done

# --- pick the runners --------------------------------------------------------
runners=(native)
have_shoal=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -x "$shoal" ]; then
  have_shoal=1
  runners+=(shoal_off shoal_on)
  # Run a private copy, so that a rebuild during the benchmark cannot mix two
  # engines in one table.
  shoal_sum=$(sha256sum "$shoal" | cut -c1-12)
  cp "$shoal" "$tmp/shoal-run"
  shoal_src=$shoal
  shoal=$tmp/shoal-run
else
  echo "note: no shoal-run at $shoal; shoal columns show n/a" >&2
fi
have_wasm3=0
if [ -n "$wasm3" ]; then
  [ -x "$wasm3" ] || die "wasm3 '$wasm3' is not an executable"
  have_wasm3=1
  runners+=(wasm3)
fi

ncpu=$(getconf _NPROCESSORS_ONLN)   # online CPUs; nproc would count only the allowed ones
pinned="not pinned"
if [ "$pin" = 1 ]; then
  if command -v taskset >/dev/null && taskset -cp "$cpu" $$ >/dev/null 2>&1; then
    pinned="pinned to CPU $cpu with taskset (all runners)"
  else
    pinned="not pinned (taskset unavailable or CPU $cpu not allowed)"
  fi
fi

# runner_cmd RUNNER KERNEL: fills the array cmd with the command line.
runner_cmd() {
  local r=$1 k=$2
  local -a arg=()
  if [ -n "${size[$k]:-}" ]; then arg=("${size[$k]}"); fi
  case $r in
    native) cmd=("$kdir/native/$k" "${arg[@]}") ;;
    shoal_off) cmd=("$shoal" "$kdir/wasm/$k.wasm" "${arg[@]}") ;;
    shoal_on) cmd=("$shoal" --fuel "$fuel" "$kdir/wasm/$k.wasm" "${arg[@]}") ;;
    wasm3) cmd=("$wasm3" "$kdir/wasm/$k.wasm" "${arg[@]}") ;;
  esac
}

if [ -n "$raw" ]; then echo "kernel,runner,run,wall_s,cpu_s" >"$raw"; fi

declare -A wall=()    # "kernel runner" -> space-separated wall microseconds
declare -A cpu=()     # "kernel runner" -> space-separated user+sys microseconds
declare -A failed=()  # "kernel runner" -> 1
declare -A fuel_used=()  # kernel -> fuel that shoal-run reported for a run

# children_cpu_ms: sets cpu_ms to the user+system time of all waited-for
# children so far. The builtin `times` must run in this shell, not in a
# command substitution (a subshell would report its own children), so it
# writes to a file; bash prints it with millisecond resolution.
children_cpu_ms() {
  local u s
  times >"$tmp/times"
  { read -r _; read -r u s; } <"$tmp/times"   # line 2: the children
  cpu_ms=$(( $(to_ms "$u") + $(to_ms "$s") ))
}
to_ms() { # 1m2.345s -> 62345
  local m=${1%%m*} sec=${1#*m}
  sec=${sec%s}
  echo $(( 10#$m * 60000 + 10#${sec%.*} * 1000 + 10#${sec#*.} ))
}

# timed_run RUNNER KERNEL: runs once; sets wall_us and cpu_us. Returns 1 on a
# failed run.
# The CPU-time limit is set inside the forked child just before exec, so no
# helper process runs while the clock is running.
timed_run() {
  local r=$1 k=$2 t0 t1 c0 rc
  runner_cmd "$r" "$k"
  children_cpu_ms; c0=$cpu_ms
  t0=$EPOCHREALTIME
  set +e
  (ulimit -S -t "$timeout_s"; exec "${cmd[@]}") >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  children_cpu_ms
  wall_us=$(( ${t1/./} - ${t0/./} ))
  cpu_us=$(( (cpu_ms - c0) * 1000 ))
  if [ "$rc" -ne 0 ]; then
    why="exit status $rc"
    if [ "$rc" -gt 128 ]; then why="$why (signal $((rc - 128)))"; fi
    if [ "$rc" -eq $((128 + 24)) ]; then why="$why: the CPU-time limit of ${timeout_s}s was hit"; fi
    return 1
  fi
  if ! cmp -s "$tmp/out" "$tmp/native.$k"; then
    why="checksum differs from native"
    return 1
  fi
  return 0
}

report_failure() {
  local r=$1 k=$2
  {
    echo "FAIL: kernel $k under $r: $why"
    echo "  command: ${cmd[*]}"
    echo "  expected stdout: $(head -c 400 "$tmp/native.$k")"
    echo "  got stdout:      $(head -c 400 "$tmp/out")"
    echo "  stderr (last lines):"
    tail -n 8 "$tmp/err" | sed 's/^/    /'
  } >&2
  if [ "$keep_going" = 0 ]; then
    exit 1
  fi
  failed["$k $r"]=1
}

# --- measure -----------------------------------------------------------------
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
for k in $kernels; do
  # The native output is the reference checksum.
  runner_cmd native "$k"
  "${cmd[@]}" >"$tmp/native.$k" 2>"$tmp/err" || die "native $k failed: $(tail -n 3 "$tmp/err")"
  for ((i = 1; i <= warmup + runs; i++)); do
    for r in "${runners[@]}"; do
      [ -n "${failed["$k $r"]:-}" ] && continue
      if ! timed_run "$r" "$k"; then
        report_failure "$r" "$k"
        continue
      fi
      if [ "$i" -gt "$warmup" ]; then
        if [ "$r" = shoal_on ]; then
          fuel_used[$k]=$(sed -n 's/^shoal-run: fuel used: \([0-9]*\).*/\1/p' "$tmp/err" | tail -n1)
        fi
        wall["$k $r"]+="$wall_us "
        cpu["$k $r"]+="$cpu_us "
        if [ -n "$raw" ]; then
          echo "$k,$r,$((i - warmup)),$(awk -v w="$wall_us" -v c="$cpu_us" 'BEGIN{printf "%.6f,%.3f", w/1e6, c/1e6}')" >>"$raw"
        fi
      fi
    done
  done
  echo "done: $k" >&2
done

# --- report ------------------------------------------------------------------
median() { # median of microsecond values, printed in seconds
  tr ' ' '\n' <<<"$1" | awk 'NF' | sort -n |
    awk '{v[NR]=$1} END{if (NR==0) exit; m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.6f", m/1e6}'
}

meson_option() { # meson_option NAME: the build directory's value of a meson option
  grep -o "{\"name\": \"$1\", \"value\": \"[^\"]*\"" \
    "$build_dir/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "//; s/"$//'
}
build_info() { # what the shoal-run came from, as far as the build directory tells
  local src rev bt nd
  src=$(grep -o '"source": "[^"]*"' "$build_dir/meson-info/meson-info.json" 2>/dev/null |
    sed 's/.*: "//; s/"$//')
  [ -n "$src" ] || src=$root
  if rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null); then
    git -C "$src" diff --quiet HEAD -- actor-runtime 2>/dev/null || rev="$rev with actor-runtime modified"
  else
    rev="not a git checkout"
  fi
  bt=$(meson_option buildtype); nd=$(meson_option b_ndebug)
  echo "source $src ($rev); meson buildtype ${bt:-unknown}, b_ndebug ${nd:-unknown}"
}

cpu_model=$(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "# Shoal engine benchmark"
echo "# date:    $started"
echo "# machine: $(uname -m), $ncpu CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# pinning: $pinned"
echo "# load:    $load_before before, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) after (1, 5, 15 min)"
echo "# runs:    median of $runs timed runs after $warmup warm-up, runners interleaved per run"
echo "# kernels: $("$clang" --version | head -n1); native -O2, wasm32-wasi -O2"
if [ "$have_shoal" = 1 ]; then
  echo "# shoal:   $shoal_src (sha256 $shoal_sum...; fuel on: --fuel $fuel)"
  echo "# build:   $(build_info)"
else
  echo "# shoal:   n/a"
fi
if [ "$have_wasm3" = 1 ]; then
  echo "# wasm3:   $wasm3 ($("$wasm3" --version 2>/dev/null | head -n1))"
else
  echo "# wasm3:   n/a (set WASM3 or pass --wasm3)"
fi

cell() { # cell CLOCK KERNEL RUNNER: median or n/a or FAIL
  local -n samples=$1
  if [ -n "${failed["$2 $3"]:-}" ]; then echo FAIL
  elif [ -n "${samples["$2 $3"]:-}" ]; then median "${samples["$2 $3"]}"
  else echo n/a
  fi
}

# table CLOCK TITLE: the result table for one clock (wall or cpu), then
# geometric means over the compute kernels (empty is start-up only: its
# ratios say little about execution speed) and the run-to-run spread.
table() {
  local clock=$1 k rows=
  echo
  echo "$2"
  echo
  echo "| kernel | native s | shoal (fuel off) s | shoal (fuel on) s | wasm3 s | ratio to native (fuel on) | shoal/wasm3 (fuel on) | fuel overhead % |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for k in $kernels; do
    rows+="$k $(cell "$clock" "$k" native) $(cell "$clock" "$k" shoal_off) $(cell "$clock" "$k" shoal_on) $(cell "$clock" "$k" wasm3)"$'\n'
  done
  printf '%s' "$rows" | awk '
    function num(x) { return x ~ /^[0-9.]+$/ && x + 0 > 0 }
    function sec(x) { return num(x) ? sprintf("%.4f", x) : x }
    function ratio(a, b, fmt) { return num(a) && num(b) ? sprintf(fmt, a / b) : "n/a" }
    function over(on, off) { return num(on) && num(off) ? sprintf("%+.1f", (on / off - 1) * 100) : "n/a" }
    function acc(i, a, b) { if (num(a) && num(b)) { lg[i] += log(a / b); ng[i]++ } }
    function gm(i, fmt) { return ng[i] == nk && nk > 0 ? sprintf(fmt, exp(lg[i] / ng[i])) : "n/a" }
    {
      k = $1; nat = $2; off = $3; on = $4; w3 = $5
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", k, sec(nat), sec(off), sec(on), sec(w3),
        ratio(on, nat, "%.1fx"), ratio(on, w3, "%.2f"), over(on, off)
      if (k != "empty") {
        acc(1, on, nat); acc(2, on, w3); acc(3, on, off)
        acc(4, w3, nat); acc(5, off, nat); acc(6, off, w3); nk++; names = names " " k
      }
    }
    END {
      if (nk > 1) {
        o = gm(3, "%.6f"); if (o != "n/a") o = sprintf("%+.1f", (o - 1) * 100)
        printf "| geomean (excl. empty) | | | | | %s | %s | %s |\n", gm(1, "%.1fx"), gm(2, "%.2f"), o
        printf "\nGeometric means over%s, as multiples of native time:\n", names
        printf "  wasm3 %s, shoal fuel off %s, shoal fuel on %s\n", gm(4, "%.1fx"), gm(5, "%.1fx"), gm(1, "%.1fx")
        printf "  shoal/wasm3: fuel off %s, fuel on %s\n", gm(6, "%.2f"), gm(2, "%.2f")
      }
    }'
  spread "$clock"
}

# spread CLOCK: run-to-run spread, so a reader can tell a quiet machine from a
# busy one.
spread() {
  local -n samples=$1
  local key
  for key in "${!samples[@]}"; do
    tr ' ' '\n' <<<"${samples[$key]}" | awk NF | sort -n | awk -v key="$key" '{
        v[++n] = $1 } END { if (n < 2) exit
        m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        if (m > 0) printf "%.1f %s\n", (v[n] - v[1]) / m * 100, key }'
  done | sort -n | awk '{ s[NR] = $1; w = $0 } END {
      if (NR == 0) exit
      sub(/^[^ ]+ /, "", w)
      printf "  run-to-run spread (max-min)/median: median %.0f%%, worst %.0f%% (%s)\n",
        s[int((NR + 1) / 2)], s[NR], w }'
}

table wall "Wall-clock seconds (median):"
table cpu "CPU seconds, user+system of the run (median; millisecond resolution):"
if [ "${#fuel_used[@]}" -gt 0 ]; then
  echo
  echo "Fuel used per run with --fuel $fuel (so the run was stopped and resumed"
  echo "about fuel/$fuel times):"
  for k in $kernels; do
    if [ -n "${fuel_used[$k]:-}" ]; then echo "  $k: ${fuel_used[$k]}"; fi
  done
fi

[ "${#failed[@]}" -eq 0 ] || { echo "some runs failed; see FAIL above" >&2; exit 1; }
