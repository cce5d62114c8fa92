#!/usr/bin/env bash
# Builds the gossip fuzz target (tests/fuzz/fuzz_gossip.c over the cluster's
# membership, scheduler/gossip.c and its wire reader) with libFuzzer, ASan
# and UBSan, and runs it.
#
# Usage: tests/fuzz/run-gossip.sh [SECONDS]    (default 300)
#
# Everything goes in build-fuzz-gossip/ at the top of the repository
# (FUZZ_DIR overrides it): the fuzz_gossip binary, seed/ (the datagrams of
# two gossips meeting, written by the target itself, and the saved inputs
# of tests/scheduler/regressions), corpus/ (kept between runs), artifacts/
# (crashing, leaking or slow inputs) and gossip.dict (the wire's keys).
# One fuzzing process runs, so it uses one core. Minimize a crash with
#   build-fuzz-gossip/fuzz_gossip -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/scheduler/regressions/NAME, where the meson test
# fuzz-gossip-regressions replays it on every build.
set -euo pipefail

seconds=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz-gossip}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_gossip"
"$cc" -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/scheduler" -I "$root/actor-runtime/err" \
  "$root"/scheduler/{gossip,gossip_wire,place}.c \
  "$root/actor-runtime/err/err.c" "$root/tests/fuzz/fuzz_gossip.c" \
  $(pkg-config --cflags --libs msgpack libcrypto) -lm \
  -o "$out/fuzz_gossip"

echo "== seed corpus in $out/seed"
FUZZ_GOSSIP_SEEDS="$out/seed" "$out/fuzz_gossip"
cp "$root"/tests/scheduler/regressions/* "$out/seed/" 2>/dev/null || true

cat >"$out/gossip.dict" <<'DICT'
"\xa1v"
"\xa1t"
"\xa1n"
"\xa1a"
"\xa2id"
"\xa1i"
"\xa3seq"
"\xa2to"
"\xa2ta"
"\xa1r"
"\xa1u"
"\xa1s"
"\xa2mv"
"\xa1m"
"\xa2fz"
"\xaatcp://fz:1"
"\xa4peer"
"\xcd\x7f\xff"
"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
"\xc3"
"\xc2"
DICT

echo "== fuzzing for $seconds seconds"
cd "$out"
exec ./fuzz_gossip corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -dict="$out/gossip.dict" -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/"
