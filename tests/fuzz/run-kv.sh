#!/usr/bin/env bash
# Builds the kv provider's fuzz target (tests/fuzz/fuzz_kv.c over kv_handle
# and kv_handle_batch, checked against a model of the shoal:kv contract)
# with libFuzzer, ASan and UBSan, and runs it.
#
# Usage: tests/fuzz/run-kv.sh [SECONDS]    (default 300)
#
# Everything goes in build-fuzz-kv/ at the top of the repository (FUZZ_DIR
# overrides it): the fuzz_kv binary, seed/ (the inputs of
# tests/capabilities/kv/corpus and regressions), corpus/ (what the fuzzer
# keeps; it persists between runs), artifacts/ (crashing, leaking or slow
# inputs) and kv.dict (tokens of msgpack and of the contract). An input is a
# byte of flags and requests separated by 0xc1 0xc1; see fuzz_kv.c. One
# fuzzing process runs, so it uses one core. Crashes do not end the run;
# minimize each with
#   build-fuzz-kv/fuzz_kv -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/capabilities/kv/regressions/NAME.bin, where test_kv
# replays it on every build.
set -euo pipefail

seconds=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz-kv}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_kv"
"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/capabilities/kv" -I "$root/actor-runtime/err" \
  "$root"/capabilities/kv/{codec,kv}.c "$root/actor-runtime/err/err.c" \
  "$root/tests/fuzz/fuzz_kv.c" \
  $(pkg-config --cflags --libs msgpack sqlite3) -lm -o "$out/fuzz_kv"

echo "== seed corpus in $out/seed"
cp "$root"/tests/capabilities/kv/corpus/* "$out/seed/"
cp "$root"/tests/capabilities/kv/regressions/* "$out/seed/" 2>/dev/null || true
echo "$(ls "$out/seed" | wc -l) seed inputs"

cat >"$out/kv.dict" <<'DICT'
"\xc1\xc1"
"\xa2op"
"\xa3get"
"\xa3set"
"\xa6delete"
"\xa4incr"
"\xa4list"
"\xa3cas"
"\xa3key"
"\xa5value"
"\xa2by"
"\xa6prefix"
"\xa5after"
"\xa5limit"
"\xa8expected"
"\x82\xa2op"
"\x83\xa2op"
"\x84\xa2op"
"\xa1k"
"\xa2k\xff"
"\xa1\xff"
"\xa1%"
"\xa1_"
"\xc0"
"\xc2"
"\xc3"
"\xc4"
"\xc5\x00"
"\xc6\x00\x00\x00"
"\xdc\x00"
"\xdd\x00\x00\x00"
"\xde\x00"
"\xdf\x00\x00\x00"
"\xd9"
"\xda\x00"
"\xdb\x00\x00\x00"
"\xc7"
"\xc8\x00"
"\xc9\x00\x00\x00"
"\xca\x7f\xc0\x00\x01"
"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"
"\xcd\x03\xe8"
"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"
"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
"\xd3\x00\x00\x00\x00\x00\x00\x00\x01"
"\xd4\x01\x02"
DICT

echo "== fuzzing for $seconds seconds"
cd "$out"
# -fork=1: one worker process, restarted after a crash, so that one bug does
# not end the run; every crashing input still lands in artifacts/.
exec ./fuzz_kv corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=4096 -dict="$out/kv.dict" -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/"
