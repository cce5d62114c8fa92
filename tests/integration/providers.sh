#!/usr/bin/env bash
# Integration test of the built-in providers: a real shoald serving the hello
# application over HTTP (curl as the client) with its counter in kv.
#
#   providers.sh SHOALD SHOALCTL HELLO_DIR SLOW_WASM
#
# routes, keep-alive, load balancing, malformed and oversized requests, kv
# through a link and its durability across kill -9, unlinked access
# refused, a full mailbox (503) and a slow actor (504).
set -euo pipefail

shoald=$1 shoalctl=$2 hello=$3 slow=$4
. "$(dirname "$0")/lib.sh"
hport=$(free_port)
url="http://127.0.0.1:$hport"
get() { curl -sS --max-time 10 "$@"; }

cp "$hello"/greeter.wasm "$hello"/visits.wasm "$tmp/"
cp "$slow" "$tmp/slow.wasm"
sed "s/127.0.0.1:8080/127.0.0.1:$hport/" "$hello/hello.yaml" >"$tmp/hello.yaml"

step "start a node and apply the hello application"
start_node
ctl apply -f "$tmp/hello.yaml" >/dev/null || fail "apply"
wait_status "$url/" 200

step "routes by longest path prefix"
get "$url/" | grep -c "hello from shoal (you asked for /)" >/dev/null || fail "GET /"
get "$url/a/b?x=1" | grep -c "you asked for /a/b" >/dev/null || fail "GET /a/b"
[ "$(get "$url/count")" = 1 ] || fail "first count"
[ "$(get "$url/count")" = 2 ] || fail "second count"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/")" = 405 ] || fail "POST is 405"

step "keep-alive: several requests on one connection"
n=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$url/" "$url/" "$url/" | awk '{s += $1} END {print s}')
[ "$n" = 1 ] || fail "keep-alive: $n connections for 3 requests"

step "requests are spread over the replicas"
for _ in $(seq 20); do get "$url/" >/dev/null; done
busy=$(ctl describe actor hello/greeter -o json |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for i in d["instances"] if i["fuel"] > 0))')
[ "$busy" = 2 ] || fail "only $busy greeter replicas served requests"

step "malformed and oversized requests"
exec 3<>"/dev/tcp/127.0.0.1/$hport"
printf 'NOT HTTP AT ALL\r\n\r\n' >&3
read -r -t 5 status <&3 || true
exec 3<&-
case $status in "HTTP/1.1 400"*) ;; *) fail "malformed: $status" ;; esac
head -c 2000000 /dev/zero >"$tmp/big"
[ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/big" "$url/")" = 413 ] ||
  fail "oversized body not 413"

step "kv survives kill -9 of the node"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start_node
wait_status "$url/count" 200
# The wait above counted once (3); this is the fourth visit.
[ "$(get "$url/count")" = 4 ] || fail "count after restart"

step "an actor without a link to kv is refused, and the node says why"
sed 's/- provider: kv$/- provider: clock/' "$tmp/hello.yaml" >"$tmp/nolink.yaml"
ctl apply -f "$tmp/nolink.yaml" >/dev/null || fail "apply without kv link"
wait_status "$url/count" 503
grep -q 'lookup of \\"kv\\": no link' "$tmp/shoald.log" || fail "no log line for the missing link"

step "a full mailbox is 503, a slow actor 504"
cat >"$tmp/slow.yaml" <<EOF
apiVersion: shoal/v1
kind: Application
metadata:
  name: slowpoke
spec:
  actors:
    - name: slow
      module: ./slow.wasm
      limits: { mailbox: 1, fuel-per-message: 100G }
      links:
        - provider: http-server
          config: { address: "127.0.0.1:$hport", path: "/slow", timeout_ms: 400 }
EOF
ctl apply -f "$tmp/slow.yaml" >/dev/null || fail "apply slow"
wait_status "$url/slow?ms=1" 200
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url/slow?ms=1500")" = 504 ] ||
  fail "a slow answer is not 504"
# Three at once into a mailbox of one while the actor is busy: at least one
# is refused with 503.
clients=()
for i in 1 2 3 4; do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$url/slow?ms=300" >"$tmp/c$i" &
  clients+=($!)
done
wait "${clients[@]}" || true
grep -q 503 "$tmp"/c? || fail "no 503 from a full mailbox: $(cat "$tmp"/c?)"

step "delete removes the routes"
ctl delete app slowpoke >/dev/null
for _ in $(seq 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/slow" || true)
  [ "$code" != 200 ] && [ "$code" != 504 ] && [ "$code" != 503 ] && break
  sleep 0.1
done
# /slow now falls to the greeter's "/" route.
get "$url/slow" | grep -c "you asked for /slow" >/dev/null || fail "route of a deleted app still served"

step "SIGTERM: a clean exit"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || fail "shoald exited with $code on SIGTERM"
echo "all provider integration checks passed"
