#!/usr/bin/env bash
# Builds the message fuzz target (tests/fuzz/fuzz_msg.c over msg_validate
# and msg_decode) with libFuzzer, ASan and UBSan, and runs it.
#
# Usage: tests/fuzz/run-msg.sh [SECONDS]    (default 300)
#
# Everything goes in build-fuzz-msg/ at the top of the repository (FUZZ_DIR
# overrides it): the fuzz_msg binary, seed/ (a few payloads and envelopes,
# and the saved inputs of tests/msg/regressions), corpus/ (what the fuzzer
# keeps; it persists between runs), artifacts/ (crashing, leaking or slow
# inputs) and msgpack.dict (tokens of msgpack and of the envelope). One
# fuzzing process runs, so it uses one core. Crashes do not end the run;
# minimize each with
#   build-fuzz-msg/fuzz_msg -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/msg/regressions/NAME.bin, where test_msg replays it
# on every build.
set -euo pipefail

seconds=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz-msg}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_msg"
"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/actor-runtime/msg" -I "$root/actor-runtime/err" \
  "$root/actor-runtime/msg/msg.c" "$root/actor-runtime/err/err.c" \
  "$root/tests/fuzz/fuzz_msg.c" \
  $(pkg-config --cflags --libs msgpack) -o "$out/fuzz_msg"

echo "== seed corpus in $out/seed"
seed() { printf "$2" >"$out/seed/$1"; }
seed nil '\xc0'
seed array '\x93\x01\xa3abc\x92\xc3\xc2'
seed map '\x82\xa1k\xcd\x01\x00\xa1v\x81\xc0\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00'
seed scalars '\x9a\xcc\xff\xd0\x80\xd1\x80\x00\xce\x00\x00\x00\x01\xd3\x00\x00\x00\x00\x00\x00\x00\x01\xca\x3f\x80\x00\x00\xd9\x01x\xc4\x01\x00\xd4\x01\x02\xc7\x01\x05\x06'
seed envelope-cast '\x84\xa4from\x01\xa4corr\x00\xa4kind\x00\xa4body\xc4\x03\x92\x01\x02'
seed envelope-down '\x84\xa4from\x00\xa4corr\x00\xa4kind\x04\xa4body\xc4\x21\x84\xa5actor\x05\xa3ref\x07\xa6reason\xa6normal\xa4code\x00'
seed envelope-wide '\xde\x00\x04\xd9\x04body\xc6\x00\x00\x00\x01\xc0\xa4kind\xd0\x01\xa4corr\xcf\x00\x00\x00\x00\x00\x00\x00\x02\xa4from\xce\x00\x01\x00\x00'
cp "$root"/tests/msg/regressions/* "$out/seed/" 2>/dev/null || true
echo "$(ls "$out/seed" | wc -l) seed inputs"

cat >"$out/msgpack.dict" <<'EOF'
"from"
"corr"
"kind"
"body"
"\xa4from"
"\xa4corr"
"\xa4kind"
"\xa4body"
"\x84"
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
"\xc9\xff\xff\xff\xff"
"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
"\xcb\x00\x00\x00\x00\x00\x00\x00\x00"
"\xc1"
EOF

echo "== fuzzing for $seconds seconds"
cd "$out"
# -fork=1: one worker process, restarted after a crash, so that one bug does
# not end the run; every crashing input still lands in artifacts/.
exec ./fuzz_msg corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=4096 -dict="$out/msgpack.dict" -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/"
