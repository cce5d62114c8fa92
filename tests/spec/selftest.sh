#!/usr/bin/env bash
# Runs spec-runner on selftest.wast, whose wrong expectations are on purpose,
# and checks that the runner reports exactly the outcomes that the script's
# "expect:" line gives, and fails. A runner that passed everything would go
# unnoticed against a correct engine; this catches it.
#
# Usage: selftest.sh RUNNER WAST2JSON SELFTEST.wast OUTDIR [RUNNER-OPTION...]
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: selftest.sh RUNNER WAST2JSON SELFTEST.wast OUTDIR [OPTION...]" >&2
  exit 2
fi
runner=$1
wast2json=$2
script=$3
out=$4
shift 4
case $runner in /*) ;; *) runner=$PWD/$runner ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac

rm -rf "$out"
mkdir -p "$out"
# Converted from its own folder, so that messages name it selftest.wast.
(cd "$(dirname "$script")" && "$wast2json" "$(basename "$script")" -o "$out/selftest.json")

expect=$(sed -n 's/^;; expect: //p' "$script")
status=0
output=$("$runner" "$@" "$out/selftest.json") || status=$?
printf '%s\n' "$output"
summary=$(printf '%s\n' "$output" |
  sed -n 's/^selftest\.wast: \([0-9]* passed, [0-9]* failed, [0-9]* skipped\).*/\1/p')

if [ "$status" -ne 1 ] || [ "$summary" != "$expect" ]; then
  echo "selftest: expected exit status 1 and \"$expect\"," \
    "got exit status $status and \"$summary\""
  exit 1
fi
echo "selftest: the runner reported every planted failure"
