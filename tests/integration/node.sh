#!/usr/bin/env bash
# Integration test of one node: a real shoald on a loopback port with a
# temporary data directory, driven by the real shoalctl.
#
#   node.sh SHOALD SHOALCTL RAWREQ APPS_DIR
#
# apply -> actors running -> call -> logs -> scale -> kill -9 and restart
# -> state recovered -> rolling update -> bad manifests and modules leave
# the node unchanged -> malformed requests -> delete -> SIGTERM exits 0.
set -euo pipefail

shoald=$1 shoalctl=$2 rawreq=$3 apps=$4
. "$(dirname "$0")/lib.sh"

# json EXPR: evaluates a Python expression over the JSON on stdin (as d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Waits (up to 15 s) until `get actors` shows N running replicas of
# app/actor at version V or later (V optional).
wait_running() {
  local actor=$1 want=$2 version=${3:-0} got=
  for _ in $(seq 150); do
    got=$(ctl get actors -o json | json "sum(1 for a in d if a['app']+'/'+a['actor']=='$actor' and a['state']=='running' and a['version']>=$version)")
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  fail "$actor: $got running replicas (version >= $version), wanted $want"
}

cp "$apps"/demo.yaml "$apps"/counter.wasm "$apps"/echo.wasm "$tmp/"

step "start a node"
start_node
ctl version | grep -c "0.1.0" >/dev/null || fail "version"

step "apply: actors run"
ctl apply -f "$tmp/demo.yaml" >"$tmp/out" || fail "apply: $(cat "$tmp/out")"
wait_running demo/counter 1
wait_running demo/echo 3
[ "$(ctl get apps -o json | json "d[0]['version']")" = 1 ] || fail "version 1"

step "apply again: nothing changes"
ctl apply -f "$tmp/demo.yaml" >"$tmp/out"
[ "$(ctl get apps -o json | json "d[0]['version']")" = 1 ] || fail "re-apply bumped the version"
grep -q unchanged "$tmp/out" || fail "re-apply output: $(cat "$tmp/out")"

step "call"
[ "$(ctl call demo/counter --data '"inc"')" = 1 ] || fail "first inc"
[ "$(ctl call demo/counter --data '"inc"')" = 2 ] || fail "second inc"
[ "$(ctl call demo/echo --data '{"a":[1,2.5,"x",null,true]}')" = '{"a":[1,2.5,"x",null,true]}' ] ||
  fail "echo round trip"

step "logs"
ctl logs demo/counter | grep -c "counter: ready" >/dev/null || fail "logs: no ready line"

step "scale"
ctl scale demo/echo --replicas 5 >/dev/null
wait_running demo/echo 5

step "logs -f follows new lines"
"$shoalctl" logs demo/counter -f >"$tmp/follow" 2>&1 &
follower=$!
sleep 0.3
ctl scale demo/counter --replicas 2 >/dev/null
for _ in $(seq 100); do
  grep -q "replica=1 .*counter: ready" "$tmp/follow" && break
  sleep 0.1
done
kill -TERM "$follower"
code=0
wait "$follower" || code=$?
grep -q "replica=1 .*counter: ready" "$tmp/follow" || fail "logs -f: $(cat "$tmp/follow")"
[ "$code" = 0 ] || fail "logs -f exited with $code on SIGTERM"
ctl scale demo/counter --replicas 1 >/dev/null
wait_running demo/counter 1

step "a crashing actor restarts; its caller gets an error, not a hang"
cp "$apps/../actors/trapper.wasm" "$tmp/"
printf 'apiVersion: shoal/v1\nkind: Application\nmetadata:\n  name: crash\nspec:\n  actors:\n    - name: trapper\n      module: ./trapper.wasm\n' >"$tmp/crash.yaml"
ctl apply -f "$tmp/crash.yaml" >/dev/null || fail "apply crash"
[ "$(ctl call crash/trapper --data '"hi"')" = '"ok"' ] || fail "trapper answers"
if ctl call crash/trapper --data '"boom"' 2>"$tmp/err"; then fail "boom answered"; fi
grep -q "exited" "$tmp/err" || fail "boom error: $(cat "$tmp/err")"
wait_running crash/trapper 1
[ "$(ctl get actors --app crash -o json | json "d[0]['restarts']")" = 1 ] || fail "restart count"
ctl describe actor crash/trapper | grep -c "divide by zero" >/dev/null || fail "last exit not shown"
ctl delete app crash >/dev/null

step "kill -9 and restart: the state is recovered"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start_node
wait_running demo/counter 1
wait_running demo/echo 5
[ "$(ctl get apps -o json | json "d[0]['version']")" = 4 ] || fail "version after restart"
[ "$(ctl call demo/counter --data '"inc"')" = 1 ] || fail "counter starts afresh"

step "rolling update: never fewer running replicas than desired"
sed -i 's/limits: { memory: 1MiB }$/limits: { memory: 2MiB }/' "$tmp/demo.yaml"
ctl apply -f "$tmp/demo.yaml" --no-wait >"$tmp/out" || fail "update apply"
grep -q updated "$tmp/out" || fail "update output: $(cat "$tmp/out")"
min=99
for _ in $(seq 200); do
  running=$(ctl get actors -o json | json "sum(1 for a in d if a['actor']=='echo' and a['state']=='running')")
  [ "$running" -lt "$min" ] && min=$running
  done_now=$(ctl get apps -o json | json "d[0]['rollout']")
  [ "$done_now" = complete ] && break
  sleep 0.05
done
[ "$done_now" = complete ] || fail "rollout did not complete"
# The manifest says 3 echo replicas again (scale was an override).
[ "$min" -ge 3 ] || fail "only $min echo replicas ran during the update"
wait_running demo/echo 3 3

step "a bad manifest and an invalid module change nothing"
printf 'apiVersion: shoal/v1\nkind: Application\nmetadata:\n  name: demo\nspec:\n  actors:\n    - name: echo\n      module: ./echo.wasm\n      replicas: lots\n' >"$tmp/bad.yaml"
if ctl apply -f "$tmp/bad.yaml" 2>"$tmp/err"; then fail "bad manifest applied"; fi
grep -q "bad.yaml:9:" "$tmp/err" || fail "bad manifest message: $(cat "$tmp/err")"
printf 'not wasm' >"$tmp/junk.wasm"
sed 's#./echo.wasm#./junk.wasm#' "$tmp/demo.yaml" >"$tmp/junk.yaml"
if ctl apply -f "$tmp/junk.yaml" 2>"$tmp/err"; then fail "invalid module applied"; fi
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "invalid module: not one line: $(cat "$tmp/err")"
[ "$(ctl get apps -o json | json "d[0]['version']")" = 5 ] || fail "version changed"

step "malformed requests get error replies"
url="tcp://127.0.0.1:$port"
"$rawreq" "$url" c1 | grep -c '^EMALFORMED' >/dev/null || fail "garbage"
"$rawreq" "$url" 92 | grep -c '^EMALFORMED' >/dev/null || fail "not a map"
# A map that claims 2^32-1 entries in five bytes: refused before any
# allocation for them.
"$rawreq" "$url" dfffffffff | grep -c '^EMALFORMED' >/dev/null || fail "huge claimed map"
"$rawreq" "$url" 82a17601a26f70a3626164 | grep -c '^EINVAL' >/dev/null || fail "unknown op"
"$rawreq" "$url" 82a17602a26f70a776657273696f6e | grep -c '^EINVAL' >/dev/null || fail "version 2"
"$rawreq" "$url" 82a17601a26f70a76170702e676574 | grep -c '^EINVAL' >/dev/null || fail "missing arg"
ctl version >/dev/null || fail "node died on bad requests"

step "errors a user can cause"
if ctl get actors --app nosuch -o json >/dev/null 2>&1; then :; fi
if ctl describe app nosuch 2>"$tmp/err"; then fail "describe of no app"; fi
grep -q 'nosuch' "$tmp/err" || fail "describe message: $(cat "$tmp/err")"

step "delete"
ctl delete app demo >/dev/null
for _ in $(seq 100); do
  n=$(ctl get actors -o json | json "len(d)")
  [ "$n" = 0 ] && break
  sleep 0.1
done
[ "$n" = 0 ] || fail "$n actors left after delete"
[ "$(ctl get apps -o json | json "len(d)")" = 0 ] || fail "app left after delete"

step "SIGTERM: a clean exit"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || fail "shoald exited with $code on SIGTERM"
grep -q 'msg="stopped"' "$tmp/shoald.log" || fail "no stopped line"
echo "all node integration checks passed"
