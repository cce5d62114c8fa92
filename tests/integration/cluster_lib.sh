# What the cluster tests (cluster.sh, partition.sh) share; sourced after
# they define `on I ARGS...` (the real shoalctl against node I) and `fail`.
#   json PY              run python on the JSON on stdin as d
#   wait_alive I S N     wait (S s at most) until node I sees N members alive
#   wait_complete I S APP N
#                        wait (S s at most) until node I reports APP's
#                        rollout complete with N replicas ready

json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

wait_alive() {
  local n=
  for _ in $(seq $(($2 * 10))); do
    n=$(on "$1" get nodes -o json | json 'print(sum(m["state"] == "alive" for m in d))')
    [ "$n" = "$3" ] && return 0
    sleep 0.1
  done
  fail "node $1 sees $n members alive, wanted $3"
}

wait_complete() {
  local r=
  for _ in $(seq $(($2 * 10))); do
    r=$(on "$1" get apps -o json | json "print(next((a['rollout'] + str(a['ready']) for a in d if a['name'] == '$3'), 'none'))")
    [ "$r" = "complete$4" ] && return 0
    sleep 0.1
  done
  fail "node $1: rollout of $3 is $r, wanted complete with $4 ready"
}
