#!/usr/bin/env bash
# Builds the manifest fuzz target (tests/fuzz/fuzz_manifest.c over
# manifest_parse, manifest_decode and the unit parsers) with libFuzzer, ASan
# and UBSan, and runs it.
#
# Usage: tests/fuzz/run-manifest.sh [SECONDS]    (default 300)
#
# Everything goes in build-fuzz-manifest/ at the top of the repository
# (FUZZ_DIR overrides it): the fuzz_manifest binary, seed/ (the manifests
# and canonical encodings of tests/node/manifest/examples, the manifests of
# examples/apps, and the saved inputs of tests/node/manifest/regressions),
# corpus/ (what the fuzzer keeps; it persists between runs), artifacts/
# (crashing, leaking or slow inputs) and manifest.dict (tokens of YAML, of
# the schema and of the encoding). One fuzzing process runs, so it uses one
# core. Crashes do not end the run; minimize each with
#   build-fuzz-manifest/fuzz_manifest -minimize_crash=1 -runs=10000 CRASH
# and save it as tests/node/manifest/regressions/NAME.yaml (or .bin), where
# test_manifest replays it on every build.
set -euo pipefail

seconds=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-$root/build-fuzz-manifest}
cc=${CC:-clang}

mkdir -p "$out/seed" "$out/corpus" "$out/artifacts"

echo "== building $out/fuzz_manifest"
"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/node/manifest" -I "$root/actor-runtime/err" \
  "$root"/node/manifest/{tree,value,manifest,codec}.c \
  "$root/actor-runtime/err/err.c" "$root/tests/fuzz/fuzz_manifest.c" \
  $(pkg-config --cflags --libs yaml-0.1 msgpack) -o "$out/fuzz_manifest"

echo "== seed corpus in $out/seed"
# The example manifests, the canonical encodings of some (for
# manifest_decode), and the saved regressions.
for f in "$root"/tests/node/manifest/examples/*.{yaml,bin} \
         "$root"/examples/apps/*.yaml; do
  [ -f "$f" ] || continue
  cp "$f" "$out/seed/$(basename "$(dirname "$f")").$(basename "$f")"
done
cp "$root"/tests/node/manifest/regressions/* "$out/seed/" 2>/dev/null || true
echo "$(ls "$out/seed" | wc -l) seed inputs"

cat >"$out/manifest.dict" <<'DICT'
"apiVersion"
"shoal/v1"
"kind"
"Application"
"metadata"
"name"
"labels"
"annotations"
"spec"
"actors"
"module"
"replicas"
"limits"
"memory"
"fuel-per-message"
"mailbox"
"restart"
"always"
"on-failure"
"never"
"init"
"placement"
"spread"
"links"
"provider"
"config"
"http-server"
"kv"
": "
"- "
"\x0a  "
"\x0a    - "
"---"
"..."
"{"
"}"
"["
"]"
"? "
"&a "
"*a"
"!!str "
"!!int "
"!!float "
"!!bool "
"!!null "
"!!map "
"!!seq "
"! "
"|"
">-"
"\""
"'"
"~"
"null"
"true"
"false"
".inf"
"-.inf"
".nan"
"0x"
"0o"
"1e9"
"KiB"
"MiB"
"GiB"
"MB"
"18446744073709551616"
"-9223372036854775809"
"\xef\xbb\xbf"
"\xa1v\x01"
"\xabmodule_hash"
"\xc4"
"\xc0"
DICT

echo "== fuzzing for $seconds seconds"
cd "$out"
# -fork=1: one worker process, restarted after a crash, so that one bug does
# not end the run; every crashing input still lands in artifacts/.
exec ./fuzz_manifest corpus seed -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=8192 -dict="$out/manifest.dict" -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/"
