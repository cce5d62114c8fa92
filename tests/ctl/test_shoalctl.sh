#!/usr/bin/env bash
# End-to-end tests of the shoalctl binary: real processes, their stdout,
# stderr and exit status. Nodes are played by fake_node (tests/ctl), which
# answers from a script and logs what it was sent; tests against a real
# shoald live in tests/integration. Prints TAP.
#
# usage: test_shoalctl.sh SHOALCTL FAKE_NODE
set -u

ctl=$(realpath "$1")
fake=$(realpath "$2")

tmp=$(mktemp -d)
fake_pid=
stop_fake() {
    if [ -n "$fake_pid" ]; then
        kill "$fake_pid" 2>/dev/null
        wait "$fake_pid" 2>/dev/null
        fake_pid=
    fi
}
trap 'stop_fake; rm -rf "$tmp"' EXIT

# No node from the environment of whoever runs the tests.
unset SHOAL_NODE

n=0
failed=0

# sc ARGS...: runs shoalctl, leaving $status, $tmp/out and $tmp/err. A
# shoalctl that hangs is killed after 30 s (status 124).
sc() {
    timeout 30 "$ctl" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
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
want_out_has() {
    grep -qE -- "$1" "$tmp/out" ||
        problems+=("stdout does not match /$1/; it was:" "$(cat "$tmp/out")")
}
want_err() {
    grep -qE -- "$1" "$tmp/err" ||
        problems+=("stderr does not match /$1/; it was:" "$(cat "$tmp/err")")
}
# want_one_err_line REGEX: stderr is exactly one line, matching REGEX.
want_one_err_line() {
    local lines
    lines=$(wc -l <"$tmp/err")
    [ "$lines" -eq 1 ] ||
        problems+=("stderr has $lines lines, expected 1:" "$(cat "$tmp/err")")
    want_err "$1"
}
want_no_err() {
    [ ! -s "$tmp/err" ] || problems+=("stderr not empty:" "$(cat "$tmp/err")")
}
want_no_out() {
    [ ! -s "$tmp/out" ] || problems+=("stdout not empty:" "$(cat "$tmp/out")")
}
# want_request REGEX: the fake node was sent a request matching REGEX.
want_request() {
    grep -qE -- "$1" "$tmp/requests" ||
        problems+=("no request matches /$1/; they were:" "$(cat "$tmp/requests")")
}
want_requests() {
    local got
    got=$(grep -c . "$tmp/requests")
    [ "$got" -eq "$1" ] ||
        problems+=("$got requests, expected $1:" "$(cat "$tmp/requests")")
}
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
}

# fake SCRIPT_JSON: starts a fake node answering from SCRIPT_JSON and
# points SHOAL_NODE at it; its requests go to $tmp/requests.
fake() {
    stop_fake
    printf '%s\n' "$1" >"$tmp/script.json"
    rm -f "$tmp/url" "$tmp/requests"
    : >"$tmp/requests"
    "$fake" "$tmp/script.json" "$tmp/url" "$tmp/requests" 2>>"$tmp/fake.err" &
    fake_pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/url" ] && break
        sleep 0.05
    done
    export SHOAL_NODE
    SHOAL_NODE=$(cat "$tmp/url")
}

# A loopback port nobody listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- Help and usage errors --------------------------------------------------

sc --help
want_status 0
want_out_has '^Usage: shoalctl '
for c in apply get describe scale delete logs call version help; do
    want_out_has "^  $c "
done
want_no_err
done_case "--help lists the commands"

sc help
want_status 0
want_out_has '^Usage: shoalctl '
done_case "help is --help"

for c in apply get describe scale delete logs call version help; do
    sc "$c" --help
    want_status 0
    want_out_has "^Usage: shoalctl $c"
    want_out_has '^  --node ADDRESS'
    want_no_err
    cp "$tmp/out" "$tmp/help1"
    sc help "$c"
    want_status 0
    cmp -s "$tmp/out" "$tmp/help1" || problems+=("help $c differs from $c --help")
    done_case "$c --help and help $c"
done

sc frobnicate
want_status 2
want_one_err_line '^shoalctl: unknown command "frobnicate"'
want_no_out
done_case "an unknown command exits 2 with one line"

sc
want_status 2
want_err '^Usage: shoalctl '
done_case "no command exits 2 with the help"

sc get apps --bogus
want_status 2
want_one_err_line "^shoalctl get: unknown option --bogus"
done_case "an unknown option exits 2"

sc get apps -o xml
want_status 2
want_one_err_line 'invalid output format "xml"'
done_case "an unknown output format exits 2"

sc get apps --timeout 10
want_status 2
want_one_err_line 'invalid --timeout "10"'
done_case "a duration needs a unit"

sc get pods
want_status 2
want_one_err_line 'cannot get "pods"'
done_case "get of an unknown kind exits 2"

sc scale demo --replicas 2
want_status 2
want_one_err_line '"demo" is not APP/ACTOR'
done_case "scale needs APP/ACTOR"

sc scale demo/echo --replicas -1
want_status 2
want_one_err_line 'invalid --replicas "-1"'
done_case "scale needs a count"

sc call demo/echo --data '{bad'
want_status 2
want_one_err_line '^shoalctl call: --data: invalid JSON at line 1, column [0-9]+: '
want_no_out
done_case "call with bad JSON exits 2 with the line and column"

sc call demo/echo
want_status 2
want_one_err_line -- '--data JSON is required'
done_case "call needs --data"

sc apply
want_status 2
want_one_err_line -- '-f FILE is required'
done_case "apply needs -f"

# ---- An unreachable node ----------------------------------------------------

port=$(free_port)
sc --node "127.0.0.1:$port" get apps
want_status 1
want_one_err_line "^shoalctl: cannot reach node at tcp://127\.0\.0\.1:$port: connection refused$"
want_no_out
done_case "get apps with no node exits 1 with one line"

SHOAL_NODE="tcp://127.0.0.1:$port" sc version
want_status 1
want_out "shoalctl 0.1.0"
want_one_err_line "cannot reach node at tcp://127\.0\.0\.1:$port"
done_case "version without a node: the client's version, then one line"

sc version --client --node "127.0.0.1:$port"
want_status 0
want_out "shoalctl 0.1.0"
want_no_err
done_case "version --client does not contact the node"

# ---- Manifests that are wrong: the node is never contacted -----------------

fake '{"*": {"ok": false, "error": "EINVAL", "message": "should not be asked"}}'
printf 'apiVersion: shoal/v1\nkind: Application\nmetadata:\n  name: demo\nspec:\n  actors:\n    - name: echo\n      module: ./echo.wasm\n      replicas: lots\n' >"$tmp/bad.yaml"
sc apply -f "$tmp/bad.yaml"
want_status 1
want_one_err_line "^$tmp/bad\.yaml:9:[0-9]+: spec\.actors\[0\]\.replicas: "
want_requests 0
done_case "apply of a bad manifest names file:line:col and contacts no node"

printf 'apiVersion: shoal/v1\nkind: Application\nmetadata:\n  name: demo\nspec:\n  actors:\n    - name: echo\n      module: ./missing.wasm\n' >"$tmp/nomod.yaml"
sc apply -f "$tmp/nomod.yaml"
want_status 1
want_one_err_line "^shoalctl: $tmp/nomod\.yaml:7: cannot read module .*missing\.wasm of actor echo: No such file or directory$"
want_requests 0
done_case "apply with a missing module contacts no node"

sc apply -f "$tmp/nosuch.yaml"
want_status 1
want_one_err_line "^shoalctl: cannot read $tmp/nosuch\.yaml: No such file or directory$"
done_case "apply of a missing file"

# ---- get --------------------------------------------------------------------

# Ages are chosen to read the same however long the tests take.
now_ms=$(($(date +%s) * 1000))

fake '{"app.list": {"apps": [
         {"name": "demo", "version": 3, "desired": 4, "ready": 4,
          "updated_ms": '$((now_ms - 1800000))', "rollout": "complete"},
         {"name": "shop-frontend", "version": 12, "desired": 3, "ready": 1,
          "updated_ms": '$((now_ms - 10800000))', "rollout": "progressing"}]},
       "actor.list": {"actors": [
         {"app": "demo", "actor": "echo", "replica": 0, "id": "0001000000050001",
          "node": "n1", "state": "running", "version": 3, "restarts": 0,
          "started_ms": '$((now_ms - 7200000))', "module": "ab"},
         {"app": "demo", "actor": "counter", "replica": 10, "id": "0001000000060001",
          "node": "n1", "state": "restarting", "version": 2, "restarts": 14,
          "started_ms": '$((now_ms - 3 * 86400000))', "module": "cd"}]},
       "node.list": {"nodes": [
         {"name": "n1", "address": "tcp://127.0.0.1:7401", "state": "alive",
          "actors": 4, "memory": 12897484, "labels": {"zone": "a"}},
         {"name": "n2", "id": 17, "address": "tcp://10.0.0.2:7401",
          "state": "suspect", "capacity": 4, "actors": 0, "memory": 1048576,
          "labels": {"zone": "b", "disk": "ssd"}}]}}'

sc get apps
want_status 0
want_out "NAME            VERSION   READY   ROLLOUT       UPDATED
demo            3         4/4     complete      30m
shop-frontend   12        1/3     progressing   3h"
want_no_err
want_request '^\{"v":1,"op":"app.list"\}$'
done_case "get apps: a table"

sc get actors --app demo
want_status 0
want_out "APP    ACTOR     REPLICA   ID                 NODE   STATE        VERSION   RESTARTS   AGE
demo   echo      0         0001000000050001   n1     running      3         0          2h
demo   counter   10        0001000000060001   n1     restarting   2         14         3d"
want_request '^\{"v":1,"op":"actor.list","app":"demo"\}$'
done_case "get actors --app: a table, and the filter is sent"

sc get nodes
want_status 0
want_out "NAME   ID   ADDRESS                STATE     CAPACITY   ACTORS   MEMORY     LABELS
n1     -    tcp://127.0.0.1:7401   alive     -          4        12.3 MiB   zone=a
n2     17   tcp://10.0.0.2:7401    suspect   4          0        1 MiB      zone=b,disk=ssd"
done_case "get nodes: a table of the members with the memory in MiB"

sc get nodes -o json
want_status 0
want_out '[
  {
    "name": "n1",
    "address": "tcp://127.0.0.1:7401",
    "state": "alive",
    "actors": 4,
    "memory": 12897484,
    "labels": {
      "zone": "a"
    }
  },
  {
    "name": "n2",
    "id": 17,
    "address": "tcp://10.0.0.2:7401",
    "state": "suspect",
    "capacity": 4,
    "actors": 0,
    "memory": 1048576,
    "labels": {
      "zone": "b",
      "disk": "ssd"
    }
  }
]'
done_case "get nodes -o json: the node's array"

sc get nodes -o yaml
want_status 0
want_out '- name: n1
  address: tcp://127.0.0.1:7401
  state: alive
  actors: 4
  memory: 12897484
  labels:
    zone: a
- name: n2
  id: 17
  address: tcp://10.0.0.2:7401
  state: suspect
  capacity: 4
  actors: 0
  memory: 1048576
  labels:
    zone: b
    disk: ssd'
done_case "get nodes -o yaml: the node's array"

sc -o json get apps
want_status 0
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[1]["name"]=="shop-frontend"' "$tmp/out" ||
    problems+=("-o json is not the apps array: $(cat "$tmp/out")")
done_case "-o before the command"

sc get actors --app demo -o json --node "$SHOAL_NODE"
want_status 0
want_out_has '"restarts": 14'
done_case "--node after the command"

sc get nodes --app demo
want_status 2
want_one_err_line -- '--app goes with get actors'
done_case "--app with get nodes exits 2"

fake '{"app.list": {"apps": []}}'
sc get apps
want_status 0
want_no_out
want_err '^No applications\.$'
sc get apps -o json
want_status 0
want_out '[]'
done_case "no applications"

# ---- Error replies ----------------------------------------------------------

fake '{"app.get": {"ok": false, "error": "ENOTFOUND", "message": "no application named \"shop\""},
       "app.delete": {"ok": false, "error": "ESTATE", "message": "the node is shutting down"}}'
sc describe app shop
want_status 1
want_one_err_line '^shoalctl: no application named "shop"$'
want_no_out
want_request '"op":"app.get","app":"shop"'
done_case "an error reply: its message on one line, exit 1"

sc delete app shop
want_status 1
want_one_err_line '^shoalctl: the node is shutting down$'
done_case "delete refused"

# ---- describe ---------------------------------------------------------------

fake '{"app.get": {"name": "demo", "version": 3, "updated_ms": 1795249464123,
         "rollout": "complete", "desired": 4, "ready": 4, "file": "demo.yaml",
         "manifest": "apiVersion: shoal/v1\nkind: Application\n",
         "actors": [{"name": "counter", "module": "ab12", "replicas": 1,
           "ready": 1, "restarts": 2,
           "limits": {"memory": 1048576, "fuel_per_message": 10000000, "mailbox": 0},
           "restart": "always",
           "links": [{"provider": "http-server", "config": {"address": "0.0.0.0:8080", "path": "/"}},
                     {"provider": "kv", "config": {"$msgpack": {"bucket": "counters"}}}]}]},
       "actor.get": {"actor": {"name": "counter", "module": "ab12", "replicas": 2,
           "ready": 1, "restarts": 2, "app": "demo",
           "limits": {"memory": 0, "fuel_per_message": 0, "mailbox": 64},
           "restart": "on-failure", "links": [],
           "instances": [
             {"app": "demo", "actor": "counter", "replica": 0, "id": "0001000000050001",
              "node": "n1", "state": "running", "version": 3, "restarts": 0,
              "started_ms": '$((now_ms - 120000))', "module": "ab12",
              "mailbox": 0, "fuel": 123456, "current": true, "last_exit": null},
             {"app": "demo", "actor": "counter", "replica": 1, "id": "0001000000070002",
              "node": "n1", "state": "failed", "version": 2, "restarts": 2,
              "started_ms": '$((now_ms - 7200000))', "module": "ab12",
              "mailbox": 7, "fuel": 0, "current": false, "last_exit": "trap: unreachable"}]}}}'
sc describe app demo
want_status 0
want_out_has '^Name:        demo$'
want_out_has '^Updated:     2026-11-21T08:24:24\.123Z \([0-9]+[smhdy] ago\)$'
want_out_has '^Replicas:    4 desired, 4 ready$'
want_out_has '^  counter$'
want_out_has '^    Limits:      memory 1 MiB, fuel per message 10000000, mailbox node default$'
want_out_has '^    Links:       http-server \{"address":"0\.0\.0\.0:8080","path":"/"\}$'
want_out_has '^                 kv \{"bucket":"counters"\}$'
done_case "describe app"

sc describe app demo -o yaml
want_status 0
want_out_has '^manifest: \|$'
want_out_has '^  apiVersion: shoal/v1$'
want_out_has '^    config: !!binary '
done_case "describe app -o yaml: the manifest as a block, bin as !!binary"

sc describe actor demo/counter
want_status 0
want_out_has '^App:         demo$'
want_out_has '^Actor:       counter$'
want_out_has '^Replicas:    2 desired, 1 ready$'
want_out_has '^Restart:     on-failure$'
want_out_has '^Links:       none$'
want_out_has '^  REPLICA   ID                 NODE   STATE     VERSION   CURRENT   RESTARTS   AGE   MAILBOX   FUEL     LAST EXIT$'
want_out_has '^  1         0001000000070002   n1     failed    2         no        2          2h    7         0        trap: unreachable$'
want_request '"op":"actor.get","app":"demo","actor":"counter"'
done_case "describe actor: its spec and a table of instances"

sc describe actor demo/counter -o json
want_status 0
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["instances"][1]["last_exit"]=="trap: unreachable"' "$tmp/out" ||
    problems+=("-o json: $(cat "$tmp/out")")
done_case "describe actor -o json: the actor map"

sc describe actor democounter
want_status 2
done_case "describe actor needs APP/ACTOR"

# ---- scale, delete ----------------------------------------------------------

fake '{"scale": {"app": "demo", "version": 4}, "app.delete": {"app": "demo"}}'
sc scale demo/echo --replicas 5
want_status 0
want_out "demo/echo scaled to 5 replicas (app version 4)"
want_request '"op":"scale","app":"demo","actor":"echo","replicas":5'
done_case "scale"

sc delete app demo
want_status 0
want_out "app demo deleted"
want_request '"op":"app.delete","app":"demo"'
done_case "delete app"

# ---- call -------------------------------------------------------------------

fake '{"call": [{"data": {"$msgpack": {"a": [1, 2.5, "x", null, true], "big": -9223372036854775808}}, "replica": 0},
                {"data": {"$msgpack": 2}, "replica": 1},
                {"data": {"$bin": "3q2+7w=="}, "replica": 1},
                {"ok": false, "error": "ETIMEDOUT", "message": "demo/echo did not reply within 1000 ms"}]}'
sc call demo/echo --data '{"a":[1,2.5,"x",null,true]}'
want_status 0
want_out '{"a":[1,2.5,"x",null,true],"big":-9223372036854775808}'
want_no_err
# The data went as msgpack bin: {"a":[1,2.5,"x",nil,true]}.
want_request '"op":"call","app":"demo","actor":"echo","data":\{"\$bin":"gaFhlQHLQAQAAAAAAACheMDD"\},"timeout_ms":10000'
done_case "call: JSON in, msgpack bin on the wire, JSON out on one line"

sc call demo/counter --data '"inc"' --timeout 3s
want_status 0
want_out '2'
want_request '"data":\{"\$bin":"o2luYw=="\},"timeout_ms":3000'
done_case "call with --timeout sends timeout_ms"

sc call demo/echo --data 1
want_status 0
want_out '{"$bin":"3q2+7w=="}'
done_case "a reply that is not msgpack prints as bin"

sc call demo/echo --data 1 --timeout 1s
want_status 1
want_one_err_line '^shoalctl: demo/echo did not reply within 1000 ms$'
done_case "a call that times out on the node"

# ---- logs -------------------------------------------------------------------

fake '{"logs": [{"lines": [
          {"seq": 1, "time_ms": 1795249464123, "replica": 0, "level": "info", "text": "counter: ready"},
          {"seq": 2, "time_ms": 1795249465000, "replica": 2, "level": "error", "text": "oops\n"}],
         "next": 2},
        {"lines": [], "next": 2},
        {"lines": [{"seq": 3, "time_ms": 1795249466000, "replica": 1, "level": "warn", "text": "later"}], "next": 3},
        {"lines": [], "next": 3}]}'
sc logs demo/counter --tail 50
want_status 0
want_out "2026-11-21T08:24:24.123Z replica=0 info counter: ready
2026-11-21T08:24:25.000Z replica=2 error oops"
want_request '"op":"logs","app":"demo","actor":"counter","tail":50\}'
done_case "logs: TIME replica=N LEVEL TEXT"

fake '{"logs": [{"lines": [
          {"seq": 1, "time_ms": 1795249464123, "replica": 0, "level": "info", "text": "counter: ready"}],
         "next": 1},
        {"lines": [], "next": 1},
        {"lines": [{"seq": 2, "time_ms": 1795249466000, "replica": 1, "level": "warn", "text": "later"}], "next": 2},
        {"lines": [], "next": 2}]}'
"$ctl" logs demo/counter -f >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do
    grep -q later "$tmp/out" && break
    sleep 0.05
done
sleep 0.6
kill -INT $pid
wait $pid
status=$?
want_status 0
want_out "2026-11-21T08:24:24.123Z replica=0 info counter: ready
2026-11-21T08:24:26.000Z replica=1 warn later"
want_no_err
want_request '"op":"logs","app":"demo","actor":"counter","after":1\}'
want_request '"op":"logs","app":"demo","actor":"counter","after":2\}'
done_case "logs -f polls with after and exits 0 on SIGINT"

"$ctl" logs demo/counter -f >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.3
kill -TERM $pid
wait $pid
status=$?
want_status 0
done_case "logs -f exits 0 on SIGTERM"

fake '{"logs": [{"lines": [], "next": 0}, {"lines": [], "next": 0}, {"$close": true}]}'
sc logs demo/counter -f
want_status 1
want_one_err_line "^shoalctl: lost the connection to node at $SHOAL_NODE$"
done_case "logs -f exits 1 with one line when the node goes away"

# ---- version ----------------------------------------------------------------

fake '{"version": {"version": "0.1.0", "api": 1, "node": "n1"}}'
sc version
want_status 0
want_out "shoalctl 0.1.0
node n1: shoald 0.1.0, control API 1"
done_case "version: client and node"

fake '{"version": {"$silent": true}}'
sc version --timeout 300ms
want_status 1
want_one_err_line "^shoalctl: no reply from node at $SHOAL_NODE within 300ms$"
done_case "--timeout bounds a request"

# ---- apply ------------------------------------------------------------------

mkdir -p "$tmp/app/mods"
printf '\0asm\1\0\0\0counter' >"$tmp/app/mods/counter.wasm"
printf '\0asm\1\0\0\0echo' >"$tmp/app/echo.wasm"
counter_hash=$(sha256sum "$tmp/app/mods/counter.wasm" | cut -c1-64)
echo_hash=$(sha256sum "$tmp/app/echo.wasm" | cut -c1-64)
cat >"$tmp/app/demo.yaml" <<EOF
apiVersion: shoal/v1
kind: Application
metadata:
  name: demo
spec:
  actors:
    - name: counter
      module: ./mods/counter.wasm
      replicas: 1
    - name: echo
      module: ./echo.wasm
      replicas: 3
    - name: echo2
      module: ./echo.wasm
EOF

fake '{"module.has": {"missing": ["'"$counter_hash"'"]},
       "module.put": {"hash": "'"$counter_hash"'", "size": 15},
       "apply": {"app": "demo", "version": 2, "changed": true,
                 "actors": [{"name": "counter", "action": "created"},
                            {"name": "echo", "action": "updated"},
                            {"name": "echo2", "action": "unchanged"}]},
       "app.get": [
         {"name": "demo", "version": 2, "rollout": "progressing",
          "actors": [{"name": "counter", "replicas": 1, "ready": 0, "restarts": 0},
                     {"name": "echo", "replicas": 3, "ready": 1, "restarts": 0},
                     {"name": "echo2", "replicas": 1, "ready": 1, "restarts": 0}]},
         {"name": "demo", "version": 2, "rollout": "progressing",
          "actors": [{"name": "counter", "replicas": 1, "ready": 0, "restarts": 0},
                     {"name": "echo", "replicas": 3, "ready": 1, "restarts": 0},
                     {"name": "echo2", "replicas": 1, "ready": 1, "restarts": 0}]},
         {"name": "demo", "version": 2, "rollout": "progressing",
          "actors": [{"name": "counter", "replicas": 1, "ready": 1, "restarts": 1},
                     {"name": "echo", "replicas": 3, "ready": 2, "restarts": 0},
                     {"name": "echo2", "replicas": 1, "ready": 1, "restarts": 0}]},
         {"name": "demo", "version": 2, "rollout": "complete",
          "actors": [{"name": "counter", "replicas": 1, "ready": 1, "restarts": 1},
                     {"name": "echo", "replicas": 3, "ready": 3, "restarts": 0},
                     {"name": "echo2", "replicas": 1, "ready": 1, "restarts": 0}]}]}'
sc apply -f "$tmp/app/demo.yaml"
want_status 0
want_out "uploaded mods/counter.wasm (15 B, sha256 ${counter_hash:0:8}…)
demo/counter created
demo/echo updated
demo/echo2 unchanged
app demo applied (version 2)
demo/counter  0/1 ready
demo/echo     1/3 ready
demo/echo2    1/1 ready
demo/counter  1/1 ready, 1 restart
demo/echo     2/3 ready
demo/echo     3/3 ready
rollout of demo complete (version 2)"
want_no_err
want_request '^\{"v":1,"op":"module.has","hashes":\["'"$counter_hash"'","'"$echo_hash"'"\]\}$'
grep '"op":"module.put"' "$tmp/requests" >"$tmp/puts"
[ "$(grep -c . "$tmp/puts")" = 1 ] || problems+=("not one module.put: $(cat "$tmp/puts")")
python3 - "$tmp/puts" "$tmp/app/mods/counter.wasm" <<'EOF' || problems+=("module.put did not carry counter.wasm")
import base64, json, sys
req = json.loads(open(sys.argv[1]).readline())
assert base64.b64decode(req["bytes"]["$bin"]) == open(sys.argv[2], "rb").read()
EOF
python3 - "$tmp/requests" "$tmp/app/demo.yaml" "$counter_hash" "$echo_hash" <<'EOF' || problems+=("the apply request is not right")
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
a = [r for r in reqs if r["op"] == "apply"][0]
assert a["manifest"] == open(sys.argv[2]).read()
assert a["file"] == sys.argv[2]
assert a["modules"] == {"./mods/counter.wasm": sys.argv[3], "./echo.wasm": sys.argv[4]}, a["modules"]
EOF
done_case "apply: uploads what the node lacks, applies, waits for the rollout"

fake '{"module.has": {"missing": []},
       "apply": {"app": "demo", "version": 2, "changed": false,
                 "actors": [{"name": "counter", "action": "unchanged"}]},
       "app.get": {"name": "demo", "version": 2, "rollout": "progressing",
          "actors": [{"name": "counter", "replicas": 1, "ready": 0, "restarts": 3}]}}'
sc apply -f "$tmp/app/demo.yaml" --no-wait
want_status 0
want_out "demo/counter unchanged
app demo unchanged (version 2)"
grep -q module.put "$tmp/requests" && problems+=("uploaded a module the node has")
grep -q app.get "$tmp/requests" && problems+=("waited despite --no-wait")
done_case "apply --no-wait, nothing to upload"

sc apply -f "$tmp/app/demo.yaml" --wait-timeout 500ms
want_status 1
want_one_err_line '^shoalctl: rollout of demo did not complete within 500ms \(counter 0/1 ready\); it goes on'
done_case "apply gives up waiting after --wait-timeout with exit 1"

(cd "$tmp/app" && "$ctl" apply -f - --no-wait <demo.yaml >"$tmp/out" 2>"$tmp/err")
status=$?
want_status 0
want_request '"file":"<stdin>"'
done_case "apply -f - reads stdin, modules relative to the current directory"

fake '{"module.has": {"missing": []},
       "apply": {"ok": false, "error": "EMANIFEST", "message": "demo.yaml:7:15: spec.actors[0].links[0].provider: no provider \"smtp\""}}'
sc apply -f "$tmp/app/demo.yaml"
want_status 1
want_one_err_line '^shoalctl: demo\.yaml:7:15: spec\.actors\[0\]\.links\[0\]\.provider: no provider "smtp"$'
done_case "apply refused by the node: its message"

fake '{"module.has": {"missing": ["'"$echo_hash"'"]},
       "module.put": {"ok": false, "error": "EMALFORMED", "message": "module: byte 8: unexpected end"}}'
sc apply -f "$tmp/app/demo.yaml"
want_status 1
want_one_err_line '^shoalctl: module: byte 8: unexpected end$'
done_case "an invalid module: one line"

echo "1..$n"
[ "$failed" -eq 0 ]
