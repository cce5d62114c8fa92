#!/usr/bin/env python3
"""What bench/cluster/run.sh measures with: polls of shoald's control API
(through the real shoalctl) and readings of the nodes' log lines.

run.sh starts and stops every process; this only asks and reads. Every
wait here has a deadline. Times are wall-clock nanoseconds since the epoch
(time.time_ns(), the clock of `date +%s%N` and of shoald's log stamps), so
that run.sh, this and the logs share one clock.

  watch.py ports N
  watch.py name CTL
  watch.py actor-id CTL APP ACTOR
  watch.py replica-node CTL APP ACTOR INDEX
  watch.py wait-alive --want N --timeout S CTL...
  watch.py wait-rollout --app APP --ready N --timeout S CTL...
  watch.py failover --via CTL --victim NAME --app APP --actor ACTOR
                    --index K --replicas R --t0 NS --timeout S LOG:OFFSET...
  watch.py convergence --want N --t0 NS LOG...
  watch.py rally --start LOG:OFFSET:LABEL --end LOG:OFFSET:LABEL...
                 --timeout S

Each command prints `key value` lines (times as nanoseconds, durations as
milliseconds) for run.sh to read, or exits with status 1 and a reason on
stderr.
"""
import json
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

SHOALCTL = None  # set from $SHOALCTL by main()

# time=2026-11-21T11:05:30.856Z level=info component=cluster msg="..."
LINE = re.compile(
    r'^time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z level=(\w+) '
    r'component=(\S+)(?: actor=(\S+))? msg="(.*)"$')
MEMBER = re.compile(r'^member (\S+) \([^)]*\): (\w+) -> (\w+)$')


def die(msg):
    print("watch.py: " + msg, file=sys.stderr)
    sys.exit(1)


def ctl(addr, *args, timeout="2s"):
    """shoalctl's stdout as JSON, or None when the node did not answer."""
    try:
        p = subprocess.run([SHOALCTL, "--node", addr, "--timeout", timeout,
                            *args, "-o", "json"],
                           capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0:
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def log_lines(spec):
    """The parsed lines of LOG[:OFFSET] from OFFSET on: (ns, level,
    component, actor, msg)."""
    path, _, off = spec.partition(":")
    out = []
    try:
        with open(path, "rb") as f:
            f.seek(int(off or 0))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return out
    for line in data.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        stamp = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=timezone.utc)
        ns = int(stamp.timestamp()) * 1_000_000_000 + int(m.group(2)) * 1_000_000
        out.append((ns, m.group(3), m.group(4), m.group(5) or "", m.group(6)))
    return out


def ms(a, b):
    return "n/a" if a is None or b is None else "%.1f" % ((a - b) / 1e6)


# ---- small questions --------------------------------------------------------

def cmd_ports(args):
    """N distinct free loopback ports (bound at once, then released)."""
    socks = []
    for _ in range(int(args[0])):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def cmd_name(args):
    d = ctl(args[0], "get", "nodes")
    if d is None:
        die("no answer from " + args[0])
    print(next(m["name"] for m in d if m["self"]))


def running(d, app, actor):
    return [a for a in d if a["app"] == app and a["actor"] == actor
            and a["state"] == "running"]


def cmd_actor_id(args):
    """The decimal id of APP/ACTOR's running replica 0 (shown in hex)."""
    addr, app, actor = args
    d = ctl(addr, "get", "actors")
    r = [a for a in running(d or [], app, actor) if a["replica"] == 0]
    if not r:
        die("%s/%s has no running replica 0" % (app, actor))
    print(int(r[0]["id"], 16))


def cmd_replica_node(args):
    addr, app, actor, index = args
    d = ctl(addr, "get", "actors")
    r = [a for a in running(d or [], app, actor) if a["replica"] == int(index)]
    if not r:
        die("%s/%s replica %s is not running" % (app, actor, index))
    print(r[0]["node"])


def options(args, names):
    """--name value pairs first, then the rest."""
    opt = {}
    while args and args[0].startswith("--"):
        key = args[0][2:]
        if key not in names or len(args) < 2:
            die("unknown or incomplete option " + args[0])
        opt[key] = args[1]
        args = args[2:]
    return opt, args


def cmd_wait_alive(args):
    """Until every node CTL sees WANT members alive; per node, the first
    time it did (seen_NODEINDEX NS) and the last (all NS)."""
    opt, addrs = options(args, {"want", "timeout"})
    want = int(opt["want"])
    deadline = time.time_ns() + int(float(opt["timeout"]) * 1e9)
    seen = {}
    while len(seen) < len(addrs):
        for i, a in enumerate(addrs):
            if i in seen:
                continue
            d = ctl(a, "get", "nodes", timeout="1s")
            if d is not None and sum(m["state"] == "alive" for m in d) == want:
                seen[i] = time.time_ns()
        if len(seen) < len(addrs):
            if time.time_ns() > deadline:
                die("%d of %d nodes see %d members alive after %s s" %
                    (len(seen), len(addrs), want, opt["timeout"]))
            time.sleep(0.01)
    for i in sorted(seen):
        print("seen_%d %d" % (i + 1, seen[i]))
    print("all %d" % max(seen.values()))


def cmd_wait_rollout(args):
    """Until every node CTL reports APP's rollout complete with READY
    replicas ready."""
    opt, addrs = options(args, {"app", "ready", "timeout"})
    deadline = time.time_ns() + int(float(opt["timeout"]) * 1e9)
    pending = list(addrs)
    while pending:
        for a in list(pending):
            d = ctl(a, "get", "apps", timeout="1s")
            for x in d or []:
                if (x["name"] == opt["app"] and x["rollout"] == "complete"
                        and x["ready"] == int(opt["ready"])):
                    pending.remove(a)
        if pending:
            if time.time_ns() > deadline:
                die("rollout of %s not complete at %s after %s s" %
                    (opt["app"], " ".join(pending), opt["timeout"]))
            time.sleep(0.05)


# ---- failover ------------------------------------------------------------

def cmd_failover(args):
    """After the kill at T0 of member VICTIM: polls node VIA every ~10 ms
    until it shows VICTIM dead, replica INDEX of APP/ACTOR running on
    another member, and all REPLICAS replicas running on others; then
    reads the survivors' logs (LOG:OFFSET, from the offsets they had
    before the kill)."""
    opt, logs = options(args, {"via", "victim", "app", "actor", "index",
                               "replicas", "t0", "timeout"})
    t0 = int(opt["t0"])
    victim, index, reps = opt["victim"], int(opt["index"]), int(opt["replicas"])
    deadline = t0 + int(float(opt["timeout"]) * 1e9)
    poll = {"suspect": None, "dead": None, "replica": None, "all": None}
    polls = 0
    while None in poll.values():
        if time.time_ns() > deadline:
            die("after %s s: %s" % (opt["timeout"], poll))
        if poll["suspect"] is None or poll["dead"] is None:
            d = ctl(opt["via"], "get", "nodes", timeout="1s")
            now = time.time_ns()
            st = next((m["state"] for m in d or [] if m["name"] == victim), None)
            if st in ("suspect", "dead") and poll["suspect"] is None:
                poll["suspect"] = now
            if st == "dead" and poll["dead"] is None:
                poll["dead"] = now
        if poll["replica"] is None or poll["all"] is None:
            d = ctl(opt["via"], "get", "actors", timeout="1s")
            now = time.time_ns()
            r = [a for a in running(d or [], opt["app"], opt["actor"])
                 if a["node"] != victim]
            if poll["replica"] is None and any(a["replica"] == index for a in r):
                poll["replica"] = now
            if poll["all"] is None and len({a["replica"] for a in r}) == reps:
                poll["all"] = now
        polls += 1
        time.sleep(0.01)

    # The logs: when each survivor first held the victim suspect (or dead
    # without suspecting it first), dead; when the replicas started.
    suspect, dead, started = [], [], {}
    label = "%s/%s/" % (opt["app"], opt["actor"])
    for spec in logs:
        s = d_ = None
        for ns, _, comp, actor, msg in log_lines(spec):
            m = MEMBER.match(msg) if comp == "cluster" else None
            if m and m.group(1) == victim:
                if m.group(3) in ("suspect", "dead") and s is None:
                    s = ns
                if m.group(3) == "dead" and d_ is None:
                    d_ = ns
            if comp == "apps" and actor.startswith(label) and \
                    msg.startswith("started as"):
                k = int(actor[len(label):])
                started.setdefault(k, ns)
        suspect.append(s)
        dead.append(d_)
    print("log_suspect_first_ms %s" % ms(min((x for x in suspect if x), default=None), t0))
    print("log_dead_first_ms %s" % ms(min((x for x in dead if x), default=None), t0))
    print("log_dead_all_ms %s" % ms(None if None in dead else max(dead), t0))
    print("log_replica_started_ms %s" % ms(started.get(index), t0))
    print("log_moved_replicas %d" % len(started))
    print("log_all_started_ms %s" % ms(max(started.values()) if started else None, t0))
    print("poll_suspect_ms %s" % ms(poll["suspect"], t0))
    print("poll_dead_ms %s" % ms(poll["dead"], t0))
    print("poll_replica_running_ms %s" % ms(poll["replica"], t0))
    print("poll_all_running_ms %s" % ms(poll["all"], t0))
    print("polls %d" % polls)


# ---- convergence ----------------------------------------------------------

def cmd_convergence(args):
    """From the nodes' logs: when each node had seen WANT - 1 other members
    come alive (its 'dead -> alive' lines; a member it first hears of is
    logged so), and the last of those, relative to T0."""
    opt, logs = options(args, {"want", "t0"})
    want, t0 = int(opt["want"]), int(opt["t0"])
    last = []
    for spec in logs:
        alive = set()
        when = None
        for ns, _, comp, _, msg in log_lines(spec):
            m = MEMBER.match(msg) if comp == "cluster" else None
            if not m:
                continue
            if m.group(3) == "alive":
                alive.add(m.group(1))
            else:
                alive.discard(m.group(1))
            if len(alive) == want - 1 and when is None:
                when = ns
        last.append(when)
    done = [x for x in last if x is not None]
    print("log_nodes_converged %d" % len(done))
    print("log_first_ms %s" % ms(min(done) if done else None, t0))
    print("log_all_ms %s" % ms(None if None in last else max(last), t0))


# ---- the cross-node rally -------------------------------------------------

def cmd_rally(args):
    """Waits until every END log shows its actor's exit, then prints the
    rally's time: from the START actor's 'started as' line to the last
    exit. Each is LOG:OFFSET:LABEL (LABEL app/actor/replica)."""
    starts, ends, timeout = [], [], 600.0
    while args:
        if args[0] == "--start":
            starts.append(args[1])
        elif args[0] == "--end":
            ends.append(args[1])
        elif args[0] == "--timeout":
            timeout = float(args[1])
        else:
            die("unknown option " + args[0])
        args = args[2:]
    if len(starts) != 1 or not ends:
        die("rally wants one --start and at least one --end")

    def find(spec, prefix):
        path, off, label = spec.split(":")
        for ns, _, comp, actor, msg in log_lines(path + ":" + off):
            if comp == "apps" and actor == label and msg.startswith(prefix):
                return ns, msg
        return None, None

    deadline = time.time_ns() + int(timeout * 1e9)
    while True:
        exits = [find(e, "exited") for e in ends]
        for (_, msg), e in zip(exits, ends):
            if msg is not None and msg != "exited (normal)":
                die("%s %s" % (e.split(":")[2], msg))
        if all(ns is not None for ns, _ in exits):
            break
        if time.time_ns() > deadline:
            die("the rally did not end within %.0f s; exited: %s" %
                (timeout, [e.split(":")[2] for (ns, _), e in zip(exits, ends)
                           if ns is not None]))
        time.sleep(0.05)
    start, _ = find(starts[0], "started as")
    if start is None:
        die("no start line for " + starts[0])
    print("rally_ms %s" % ms(max(ns for ns, _ in exits), start))


def main():
    global SHOALCTL
    import os
    SHOALCTL = os.environ.get("SHOALCTL", "shoalctl")
    if len(sys.argv) < 2:
        die("no command; see the header of this file")
    cmds = {
        "ports": cmd_ports, "name": cmd_name, "actor-id": cmd_actor_id,
        "replica-node": cmd_replica_node, "wait-alive": cmd_wait_alive,
        "wait-rollout": cmd_wait_rollout, "failover": cmd_failover,
        "convergence": cmd_convergence, "rally": cmd_rally,
    }
    if sys.argv[1] not in cmds:
        die("unknown command " + sys.argv[1])
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
