#!/usr/bin/env bash
# Builds the http-server fuzz target (tests/fuzz/fuzz_http.c over the
# connections of capabilities/http, fed through socketpairs) with
# libFuzzer, ASan and UBSan, and runs it.
#
# Usage: tests/fuzz/run-http.sh [SECONDS]    (default 300)
#
# Everything goes in build-fuzz-http/ at the top of the repository
# (FUZZ_DIR overrides it): the fuzz_http binary, seed/ (the saved inputs of
# tests/capabilities/http/regressions), corpus/ (what the fuzzer keeps; it
# persists between runs), artifacts/ (crashing, leaking or slow inputs)
# and http.dict (tokens of HTTP and of the response map). One fuzzing
# process runs, so it uses one core. Crashes do not end the run; minimize
# each with
#   build-fuzz-http/fuzz_http -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/capabilities/http/regressions/NAME, where the meson
# test fuzz-http-regressions replays it on every build.
set -euo pipefail

seconds=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz-http}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_http"
"$cc" -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/capabilities/http" -I "$root/actor-runtime/err" \
  -I "$root/actor-runtime/msg" \
  "$root"/capabilities/http/{server,conn,response}.c \
  "$root/actor-runtime/msg/msg.c" \
  "$root/actor-runtime/err/err.c" "$root/tests/fuzz/fuzz_http.c" \
  $(pkg-config --cflags --libs libuv msgpack) -lhttp_parser \
  -o "$out/fuzz_http"

echo "== seed corpus in $out/seed"
cp "$root"/tests/capabilities/http/regressions/* "$out/seed/"
echo "$(ls "$out/seed" | wc -l) seed inputs"

cat >"$out/http.dict" <<'DICT'
"GET "
"HEAD "
"POST "
"PUT "
"OPTIONS * "
"CONNECT "
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"Host: "
"Content-Length: "
"Transfer-Encoding: chunked\x0d\x0a"
"Connection: close\x0d\x0a"
"Connection: keep-alive\x0d\x0a"
"Connection: Upgrade\x0d\x0aUpgrade: x\x0d\x0a"
"Expect: 100-continue\x0d\x0a"
"0\x0d\x0a\x0d\x0a"
"/r"
"/f"
"/h"
"/a"
"/x/"
"?q=1"
"http://h/"
"\xa6status"
"\xa7headers"
"\xa4body"
"\xcd\x01\xf4"
"\x92\xa1a\xa1b"
"\x81\xaaconnection\xa5close"
"\x0d\x0a"
DICT

echo "== fuzzing for $seconds seconds"
cd "$out"
# -fork=1: one worker process, restarted after a crash, so that one bug does
# not end the run; every crashing input still lands in artifacts/.
exec ./fuzz_http corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=16384 -dict="$out/http.dict" -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/"
