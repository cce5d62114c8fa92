#!/usr/bin/env bash
# End-to-end tests of the shoal-run binary: real processes, their stdout,
# stderr and exit status. Prints TAP.
#
# usage: test_shoal_run.sh SHOAL_RUN HELLO_WASM WASI_CHECK_WASM INVOKE_WASM
#                          IMPORT_ENV_WASM
set -u

run=$1
hello=$2
check=$3
invoke=$4
import_env=$5

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0

# sr ARGS...: runs shoal-run with stdin from $tmp/in (empty unless a test
# writes it), leaving $status, $tmp/out and $tmp/err.
: >"$tmp/in"
sr() {
    "$run" "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
    status=$?
}

problems=()
want_status() {
    [ "$status" -eq "$1" ] || problems+=("exit status $status, expected $1")
}
want_out() {
    local want
    want=$(printf '%s' "$1")
    [ "$(cat "$tmp/out")" = "$want" ] ||
        problems+=("stdout was:" "$(cat "$tmp/out")" "expected:" "$want")
}
want_err() {
    grep -qE -- "$1" "$tmp/err" ||
        problems+=("stderr does not match /$1/; it was:" "$(cat "$tmp/err")")
}
want_no_err() {
    [ ! -s "$tmp/err" ] || problems+=("stderr not empty:" "$(cat "$tmp/err")")
}
# done_case NAME: reports the checks made since the last case.
done_case() {
    n=$((n + 1))
    if [ ${#problems[@]} -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        printf '#   %s\n' "${problems[@]}"
        failed=$((failed + 1))
    fi
    problems=()
    : >"$tmp/in"
}

# ---- Commands ---------------------------------------------------------------

sr "$hello" one "two words"
want_status 0
want_out "Hello from a WebAssembly program running on Shoal!
I was started as $hello with 2 arguments.
  argv[1] = one
  argv[2] = two words"
want_no_err
done_case "hello prints its greeting and arguments"

sr "$hello" --fuel 3 -h
want_status 0
want_out "Hello from a WebAssembly program running on Shoal!
I was started as $hello with 3 arguments.
  argv[1] = --fuel
  argv[2] = 3
  argv[3] = -h"
done_case "options after FILE belong to the program"

sr "$check" exit 7
want_status 7
want_out "exiting with 7"
done_case "exit(7) is the exit status"

sr "$check" return 3
want_status 3
done_case "returning 3 from main is the exit status"

SHOAL_CHECK=from-the-shell sr "$check" env
want_status 0
grep -qx 'SHOAL_CHECK=from-the-shell' "$tmp/out" || problems+=("SHOAL_CHECK missing from environ")
grep -qx 'getenv(SHOAL_CHECK)=from-the-shell' "$tmp/out" || problems+=("getenv failed")
done_case "the program gets the process environment"

printf 'piped in' >"$tmp/in"
sr "$check" stdin
want_status 0
want_out "read 8 bytes to EOF
PIPED IN"
done_case "stdin reaches the program"

sr "$check" fopen /etc/passwd
want_status 0
want_out "fopen /etc/passwd: failed: Capabilities insufficient"
done_case "opening a file fails with an errno, not a trap"

sr "$check" trap
want_status 134
want_out "before the trap"
want_err '^shoal-run: trap: unreachable executed$'
done_case "a trap exits 134 with its message"

sr "$invoke"
want_status 1
want_err "no _start function"
done_case "a module without _start needs --invoke"

sr "$import_env"
want_status 1
want_err "env\.host_log: unknown import"
done_case "an import WASI cannot satisfy is named"

# ---- --invoke ---------------------------------------------------------------

sr --invoke add "$invoke" 40 2
want_status 0
want_out "Result: 42"
done_case "--invoke add 40 2"

sr --invoke add "$invoke" -5 0x3
want_status 0
want_out "Result: -2"
done_case "--invoke with a negative and a hex argument"

sr --invoke add "$invoke" 4294967295 0
want_status 0
want_out "Result: -1"
done_case "--invoke takes unsigned i32 and prints signed"

sr --invoke fac "$invoke" 20
want_status 0
want_out "Result: 2432902008176640000"
done_case "--invoke i64"

sr --invoke half "$invoke" 3
want_status 0
want_out "Result: 1.5"
done_case "--invoke f64"

sr --invoke tenth "$invoke" 1
want_status 0
want_out "Result: 0.1"
done_case "--invoke f32 prints the shortest decimal"

sr --invoke swap "$invoke" 1 0x7fffffffffffffff
want_status 0
want_out "Result: 9223372036854775807
Result: 1"
done_case "--invoke with two results"

sr --invoke nothing "$invoke"
want_status 0
want_out ""
want_no_err
done_case "--invoke without results prints nothing"

sr --invoke div "$invoke" 1 0
want_status 134
want_err '^shoal-run: trap: integer divide by zero$'
done_case "--invoke trap"

sr --invoke add "$invoke" 1 x
want_status 2
want_err "argument 2 of add: 'x' is not a valid i32"
done_case "--invoke with a bad argument"

sr --invoke add "$invoke" 4294967296 0
want_status 2
done_case "--invoke with an i32 out of range"

sr --invoke add "$invoke" 1
want_status 2
want_err 'add takes 2 arguments \(i32, i32\), got 1'
done_case "--invoke with too few arguments"

sr --invoke nope "$invoke"
want_status 1
want_err "no exported function 'nope'"
done_case "--invoke of a missing export"

# ---- --fuel and --stats -----------------------------------------------------

# fuel_of SLICE ARGS...: runs with --fuel SLICE and sets $fuel to the
# figure that shoal-run prints; stdout is kept in $tmp/out.SLICE too.
fuel_of() {
    local slice=$1
    shift
    sr --fuel "$slice" "$@"
    cp "$tmp/out" "$tmp/out.$slice"
    fuel=$(sed -n 's/^shoal-run: fuel used: \([0-9][0-9]*\)$/\1/p' "$tmp/err")
}

fuel_of 1000000000 "$hello" a b
f1=$fuel s1=$status
fuel_of 97 "$hello" a b
f2=$fuel s2=$status
[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] || problems+=("exit statuses $s1 $s2")
[ -n "$f1" ] && [ "$f1" -gt 0 ] || problems+=("no fuel figure: '$f1'")
[ "$f1" = "$f2" ] || problems+=("fuel differs by slice: $f1 vs $f2")
cmp -s "$tmp/out.1000000000" "$tmp/out.97" || problems+=("output differs by slice")
grep -q "^Hello from" "$tmp/out.97" || problems+=("no greeting with --fuel 97")
done_case "--fuel: same output and fuel for any slice (hello: $f1)"

fuel_of 5000000 "$check" loop 100000
f1=$fuel
fuel_of 333 "$check" loop 100000
f2=$fuel
want_status 0
want_out "loop 100000: dbb591e5"
[ -n "$f1" ] && [ "$f1" = "$f2" ] || problems+=("fuel differs by slice: '$f1' vs '$f2'")
fuel_of 333 "$check" loop 200000
f3=$fuel
[ -n "$f3" ] && [ "$f3" -gt "$f2" ] || problems+=("twice the rounds did not take more fuel: $f2 vs $f3")
done_case "--fuel: a loop uses the same fuel in slices of 333 ($f1)"

fuel_of 1000000 --invoke spin "$invoke" 10000
f1=$fuel
want_out "Result: 50005000"
fuel_of 10 --invoke spin "$invoke" 10000
f2=$fuel
want_out "Result: 50005000"
[ -n "$f1" ] && [ "$f1" = "$f2" ] || problems+=("fuel differs by slice: '$f1' vs '$f2'")
done_case "--fuel with --invoke ($f1)"

# The loop above used f3 fuel in all; a budget of half of it stops it.
half=$((f3 / 2))
sr --fuel 333 --fuel-limit "$half" "$check" loop 200000
want_status 3
want_err "fuel limit of $half reached"
sr --fuel-limit "$((f3 + 1000))" "$check" loop 200000
want_status 0
grep -q "^loop 200000: [0-9a-f]\{8\}$" "$tmp/out" ||
    problems+=("no result within a sufficient budget:" "$(cat "$tmp/out")")
done_case "--fuel-limit: stops a program at its budget, exit 3 (budget $half)"

sr --stats "$hello"
want_status 0
want_err '^shoal-run: load\+compile: [0-9.]+ ms$'
want_err '^shoal-run: instantiate: [0-9.]+ ms$'
want_err '^shoal-run: run: [0-9.]+ ms$'
want_err '^shoal-run: peak RSS: [0-9]+ KiB$'
grep -q 'fuel used' "$tmp/err" && problems+=("fuel reported without metering")
done_case "--stats"

sr --stats --fuel 100000 "$hello"
want_err '^shoal-run: fuel used: [0-9]+$'
[ "$(grep -c 'fuel used' "$tmp/err")" -eq 1 ] || problems+=("fuel reported twice")
done_case "--stats with --fuel reports the fuel once"

# ---- --max-memory -----------------------------------------------------------

sr "$check" malloc 8
want_status 0
want_out "malloc 8 MiB: ok"
done_case "malloc 8 MiB without a limit"

sr --max-memory 4MiB "$check" malloc 8
want_status 1
want_out "malloc 8 MiB: failed"
done_case "--max-memory 4MiB makes malloc of 8 MiB fail"

sr --max-memory 100 "$check" malloc 8
want_status 1
want_out "malloc 8 MiB: failed"
done_case "--max-memory in pages"

sr --max-memory 1 "$hello"
want_status 1
want_err "^shoal-run: $hello: "
done_case "--max-memory below the module's minimum fails to instantiate"

# ---- Bad input --------------------------------------------------------------

printf 'this is not wasm' >"$tmp/bad.wasm"
sr "$tmp/bad.wasm"
want_status 1
want_err "^shoal-run: $tmp/bad.wasm: error at byte [0-9]+: .+"
want_out ""
done_case "a file that is not Wasm"

head -c 300 "$hello" >"$tmp/short.wasm"
sr "$tmp/short.wasm"
want_status 1
want_err "^shoal-run: $tmp/short.wasm: error at byte [0-9]+: .+"
done_case "a truncated module"

sr "$tmp/missing.wasm"
want_status 1
want_err "^shoal-run: $tmp/missing.wasm: No such file or directory$"
done_case "a missing file"

sr
want_status 2
want_err "no module given"
done_case "no arguments"

sr --frobnicate "$hello"
want_status 2
want_err "unknown option '--frobnicate'"
done_case "an unknown option"

sr --fuel zero "$hello"
want_status 2
want_err "^shoal-run: --fuel: 'zero' is not a positive number"
done_case "a bad --fuel"

sr --fuel
want_status 2
want_err "option '--fuel' needs a value"
done_case "--fuel without a value"

sr --max-memory 5XB "$hello"
want_status 2
done_case "a bad --max-memory"

sr --help
want_status 0
grep -q '^Usage: shoal-run' "$tmp/out" || problems+=("no usage on stdout")
done_case "--help"

sr --version
want_status 0
grep -qE '^shoal-run [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out" || problems+=("no version")
done_case "--version"

echo "1..$n"
[ "$failed" -eq 0 ]
