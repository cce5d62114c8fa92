#!/usr/bin/env bash
# Converts WebAssembly spec scripts with wast2json and runs spec-runner on them.
#
# Usage: run-wast.sh RUNNER WAST2JSON SUITE OUTDIR [RUNNER-OPTION...] -- [NAME...]
#
# NAME is a script relative to the testsuite folder, e.g. core/fac.wast; with
# no NAME, every core/*.wast of the suite runs. Each script is converted into
# OUTDIR/<script>/ (emptied first), then one spec-runner process runs them
# all. SHOAL_WASM_TESTSUITE, when set, replaces SUITE. Exits 77 (skip) when
# the testsuite is not there.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: run-wast.sh RUNNER WAST2JSON SUITE OUTDIR [OPTION...] -- [NAME...]" >&2
  exit 2
fi
runner=$1
wast2json=$2
suite=${SHOAL_WASM_TESTSUITE:-$3}
out=$4
shift 4

options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  options+=("$1")
  shift
done
[ $# -gt 0 ] && shift # the "--"

if [ ! -d "$suite/core" ]; then
  echo "wasm-testsuite not found at $suite: spec tests skipped"
  exit 77
fi

# The conversion runs inside the suite folder so that the scripts' names in
# messages read core/NAME.wast; every other path must then be absolute.
case $runner in /*) ;; *) runner=$PWD/$runner ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac

if [ $# -eq 0 ]; then
  set -- $(cd "$suite" && echo core/*.wast)
fi

scripts=()
for name in "$@"; do
  base=$(basename "$name" .wast)
  dir=$out/$base
  rm -rf "$dir"
  mkdir -p "$dir"
  # A script that does not convert is still passed on: spec-runner then
  # reports it as a failure.
  if ! (cd "$suite" && "$wast2json" "$name" -o "$dir/$base.json"); then
    echo "$name: wast2json failed"
  fi
  scripts+=("$dir/$base.json")
done

exec "$runner" "${options[@]+"${options[@]}"}" "${scripts[@]}"
