#!/usr/bin/env bash
# Integration test of an external provider: shoald runs examples/providers'
# shoal-clock, an actor linked to it asks it for the time over HTTP; the
# provider is killed (-9) and comes back: meanwhile the actor gets errors
# at once, not hangs, and afterwards answers again. An actor without the
# link is refused.
#
#   external.sh SHOALD SHOALCTL SHOAL_CLOCK TIMETELLER_WASM
set -euo pipefail

shoald=$1 shoalctl=$2 clock=$3 teller=$4
. "$(dirname "$0")/lib.sh"
hport=$(free_port)
url="http://127.0.0.1:$hport"
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 8 "$1" || true; }

# The pid of the provider process: the child of shoald that is shoal-clock
# itself (the node runs it with sh -c "exec ...", so no shell stays between).
provider_pid() {
  local p
  for p in $(ps -o pid= --ppid "$pid"); do
    [ "$(ps -o comm= -p "$p")" = shoal-clock ] && { echo "$p"; return; }
  done
}

cp "$teller" "$tmp/timeteller.wasm"
cat >"$tmp/app.yaml" <<EOF
apiVersion: shoal/v1
kind: Application
metadata:
  name: timely
spec:
  actors:
    - name: teller
      module: ./timeteller.wasm
      links:
        - provider: http-server
          config: { address: "127.0.0.1:$hport", path: "/" }
        - provider: clock
          config: { offset_ms: 0 }
    - name: stranger
      module: ./timeteller.wasm
      links:
        - provider: http-server
          config: { address: "127.0.0.1:$hport", path: "/stranger" }
EOF

step "start a node with the clock provider"
start_node --provider "clock=$clock"
ctl apply -f "$tmp/app.yaml" >/dev/null || fail "apply"

step "a linked actor gets the time from the provider"
wait_status "$url/" 200
curl -s --max-time 5 "$url/" | grep -c unix_ms >/dev/null || fail "no time in the answer"

step "an actor without the link is refused"
[ "$(status "$url/stranger")" = 503 ] || fail "stranger was served"
grep -q 'lookup of \\"clock\\": no link' "$tmp/shoald.log" || fail "no log line for the refused lookup"

step "kill -9 the provider: errors at once, then it is back"
ppid=$(provider_pid)
[ -n "$ppid" ] || fail "no provider process found"
kill -9 "$ppid"
# While it is down, answers come quickly (no hang): 503 or, once it is
# back, 200; each within curl's 8 s, and the first well within that.
start=$(date +%s%N)
code=$(status "$url/")
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$code" = 503 ] || [ "$code" = 200 ] || fail "status $code while the provider was down"
[ "$elapsed" -lt 6000 ] || fail "a request took $elapsed ms while the provider was down"
for _ in $(seq 100); do
  [ "$(grep -c 'actor=clock msg="started' "$tmp/shoald.log")" -ge 2 ] && break
  sleep 0.1
done
grep -q 'component=provider actor=clock msg="exited' "$tmp/shoald.log" || fail "no exit logged"
wait_status "$url/" 200
newpid=$(provider_pid)
[ -n "$newpid" ] && [ "$newpid" != "$ppid" ] || fail "the provider was not restarted"

step "SIGTERM: a clean exit, the provider stopped too"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || fail "shoald exited with $code on SIGTERM"
for _ in $(seq 50); do
  kill -0 "$newpid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$newpid" 2>/dev/null; then kill -9 "$newpid"; fail "the provider outlived the node"; fi
echo "all external provider checks passed"
