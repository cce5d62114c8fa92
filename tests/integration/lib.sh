# What the integration tests share; sourced after they set shoald and
# shoalctl. It makes a temporary directory ($tmp, removed at exit with the
# node still running, if any, killed by its PID), picks a free loopback
# port for the control API ($port, exported as SHOAL_NODE), and gives:
#   fail MSG           print MSG and the node's last log lines, exit 1
#   step MSG           announce a step
#   free_port          a free TCP port on 127.0.0.1
#   ctl ARGS...        the real shoalctl
#   start_node ARGS... start shoald (extra options allowed), wait until it
#                      answers (10 s at most); its pid is $pid
#   wait_status URL N  wait (10 s at most) until GET URL answers status N

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- shoald log (last 40 lines)" >&2
  tail -n 40 "$tmp/shoald.log" >&2 || true
  exit 1
}
step() { echo "== $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
export SHOAL_NODE="127.0.0.1:$port"
ctl() { "$shoalctl" "$@"; }

start_node() {
  "$shoald" --data-dir "$tmp/data" --listen "127.0.0.1:$port" --workers 2 \
    --log-level debug "$@" 2>>"$tmp/shoald.log" &
  pid=$!
  for _ in $(seq 100); do
    ctl version >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "shoald exited at start"
    sleep 0.1
  done
  fail "shoald did not answer within 10 s"
}

wait_status() {
  local code=
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
    [ "$code" = "$2" ] && return 0
    sleep 0.1
  done
  fail "GET $1: status $code, wanted $2"
}
