#!/usr/bin/env bash
# Builds the engine fuzz target with libFuzzer, ASan and UBSan, and runs it.
#
# Usage: tests/fuzz/run.sh [SECONDS]    (default 600)
#
# Everything goes in build-fuzz/ at the top of the repository (FUZZ_DIR
# overrides it): the fuzz_engine binary, seed/ (the modules of the spec
# testsuite as converted by wast2json, the repository's .wat test modules
# and the .wasm files of the build folders), corpus/ (what the fuzzer keeps; it persists between runs) and
# artifacts/ (crashing, leaking or slow inputs). One fuzzing process runs,
# so it uses one core. Crashes do not end the run; minimize each with
#   build-fuzz/fuzz_engine -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/fuzz/regressions/NAME.wasm, where the 'fuzz-regressions'
# test replays it on every build.
set -euo pipefail

seconds=${1:-600}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz}
suite=${SHOAL_WASM_TESTSUITE:-$root/../shared/wasm-testsuite}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_engine"
cflags=(-std=gnu11 -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -I "$root/actor-runtime/wasm" -I "$root/actor-runtime/err")
mkdir -p "$out/obj"
objs=()
for src in "$root"/actor-runtime/wasm/{decode,validate,module,compile,interp,instance}.c \
           "$root/actor-runtime/err/err.c" "$root/tests/fuzz/fuzz_engine.c"; do
  obj=$out/obj/$(basename "$src" .c).o
  # Every object depends on every header of the engine; rebuild when any
  # of them, the source or this script is newer.
  stale=0
  for dep in "$src" "$0" "$root"/actor-runtime/wasm/*.h "$root"/actor-runtime/err/*.h; do
    [ "$obj" -nt "$dep" ] || stale=1
  done
  if [ $stale = 1 ]; then
    "$cc" "${cflags[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
"$cc" "${cflags[@]}" "${objs[@]}" -lm -o "$out/fuzz_engine"

echo "== seed corpus in $out/seed"
if [ -z "$(ls -A "$out/seed")" ]; then
  tmp=$(mktemp -d)
  if [ -d "$suite/core" ]; then
    for wast in "$suite"/core/*.wast; do
      base=$(basename "$wast" .wast)
      mkdir -p "$tmp/$base"
      (cd "$tmp/$base" && wast2json "$wast" -o "$base.json" >/dev/null 2>&1) || true
      for f in "$tmp/$base"/*.wasm; do
        [ -f "$f" ] && cp "$f" "$out/seed/$base.$(basename "$f")"
      done
    done
  else
    echo "warning: no testsuite at $suite; seeding from .wat files only" >&2
  fi
  for wat in "$root"/tests/*/wat/*.wat "$root"/tests/*/*.wat "$root"/tests/*/progs/*.wat; do
    [ -f "$wat" ] || continue
    wat2wasm "$wat" -o "$out/seed/wat.$(basename "$wat" .wat).wasm" 2>/dev/null || true
  done
  rm -rf "$tmp"
fi
# On every run: the modules the builds made (examples compiled from C, test
# modules) and the saved regressions, which change more often.
for dir in "$root"/build*/; do
  [ -d "$dir" ] && [ "$dir" != "$out/" ] || continue
  find "$dir" -name '*.wasm' -size -64k -not -path '*/tests/spec/*' 2>/dev/null |
    while read -r f; do cp "$f" "$out/seed/build.$(basename "$f")"; done || true
done
cp "$root"/tests/fuzz/regressions/*.wasm "$out/seed/" 2>/dev/null || true
echo "$(ls "$out/seed" | wc -l) seed inputs"

echo "== fuzzing for $seconds seconds"
cd "$out"
# -fork=1: one worker process, restarted after a crash, so that one bug does
# not end the run; every crashing input still lands in artifacts/.
exec ./fuzz_engine corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/"
