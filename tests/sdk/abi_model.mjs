// A small model of the actor runtime of docs/abi.md in JavaScript, to run
// the example actors as the WebAssembly modules they are before (and
// besides) the real runtime: node instantiates them with the "shoal"
// imports below and nothing else.
//
// What it models: ids, bounded mailboxes, the current message, the two
// styles, init messages, send/reply/log/exit/spawn, exit reasons, message
// validation (exactly one msgpack object, at most 1 MiB) and pointer
// checks. What it does not: threads, preemption, links and monitors
// (accepted, no notices), call from an actor (TIMEOUT), and waiting: a
// long-running actor's receive returns at once, TIMEOUT when its mailbox
// is empty, and the model abandons the actor after a few of those in a
// row (the receive loop of a test must end).

export const E = {
  NOACTOR: -1, FULL: -2, MALFORMED: -3, TIMEOUT: -4, FAULT: -5,
  NOMODULE: -6, LIMIT: -7, NOMSG: -8, EXITED: -9,
};
export const KIND = { CAST: 0, REQUEST: 1, REPLY: 2, EXIT: 3, DOWN: 4, INIT: 5 };
const MAX_MESSAGE = 1 << 20;

// ---- msgpack, enough for the tests ----

export function encode(v) {
  const out = [];
  const be = (n, bytes) => {
    for (let i = bytes - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  };
  const enc = (x) => {
    if (x === null || x === undefined) out.push(0xc0);
    else if (x === true) out.push(0xc3);
    else if (x === false) out.push(0xc2);
    else if (typeof x === 'number' || typeof x === 'bigint') {
      const n = BigInt(x);
      if (n >= 0n) {
        if (n < 128n) out.push(Number(n));
        else if (n < 256n) { out.push(0xcc); be(n, 1); }
        else if (n < 65536n) { out.push(0xcd); be(n, 2); }
        else if (n < 4294967296n) { out.push(0xce); be(n, 4); }
        else { out.push(0xcf); be(n, 8); }
      } else if (n >= -32n) out.push(Number(n & 0xffn));
      else { out.push(0xd3); be(BigInt.asUintN(64, n), 8); }
    } else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      if (b.length < 32) out.push(0xa0 | b.length);
      else if (b.length < 256) { out.push(0xd9); be(b.length, 1); }
      else if (b.length < 65536) { out.push(0xda); be(b.length, 2); }
      else { out.push(0xdb); be(b.length, 4); }
      out.push(...b);
    } else if (x instanceof Uint8Array) {
      if (x.length < 256) { out.push(0xc4); be(x.length, 1); }
      else if (x.length < 65536) { out.push(0xc5); be(x.length, 2); }
      else { out.push(0xc6); be(x.length, 4); }
      for (const byte of x) out.push(byte);
    } else if (Array.isArray(x)) {
      if (x.length < 16) out.push(0x90 | x.length);
      else { out.push(0xdc); be(x.length, 2); }
      x.forEach(enc);
    } else {
      const keys = Object.keys(x);
      if (keys.length < 16) out.push(0x80 | keys.length);
      else { out.push(0xde); be(keys.length, 2); }
      for (const k of keys) { enc(k); enc(x[k]); }
    }
  };
  enc(v);
  return Uint8Array.from(out);
}

// Decodes one object; integers come back as BigInt. Throws on malformed
// bytes; `exact` also refuses trailing bytes.
export function decode(bytes, exact = true) {
  let pos = 0;
  const need = (n) => { if (pos + n > bytes.length) throw new Error('truncated'); };
  const uint = (n) => {
    need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[pos++]);
    return v;
  };
  const dec = () => {
    need(1);
    const t = bytes[pos++];
    if (t <= 0x7f) return BigInt(t);
    if (t >= 0xe0) return BigInt(t - 256);
    if ((t & 0xf0) === 0x80) return map(t & 0x0f);
    if ((t & 0xf0) === 0x90) return arr(t & 0x0f);
    if ((t & 0xe0) === 0xa0) return str(t & 0x1f);
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: return bin(Number(uint(1 << (t - 0xc4))));
      case 0xc7: case 0xc8: case 0xc9: { const n = Number(uint(1 << (t - 0xc7))); need(1 + n); pos += 1 + n; return { ext: n }; }
      case 0xca: need(4); pos += 4; return 0.0;
      case 0xcb: { need(8); const v = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getFloat64(0); pos += 8; return v; }
      case 0xcc: case 0xcd: case 0xce: case 0xcf: return uint(1 << (t - 0xcc));
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: { const w = 1 << (t - 0xd0); return BigInt.asIntN(8 * w, uint(w)); }
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: { const n = 1 << (t - 0xd4); need(1 + n); pos += 1 + n; return { ext: n }; }
      case 0xd9: case 0xda: case 0xdb: return str(Number(uint(1 << (t - 0xd9))));
      case 0xdc: return arr(Number(uint(2)));
      case 0xdd: return arr(Number(uint(4)));
      case 0xde: return map(Number(uint(2)));
      case 0xdf: return map(Number(uint(4)));
      default: throw new Error('bad tag');
    }
  };
  const str = (n) => { need(n); const s = Buffer.from(bytes.subarray(pos, pos + n)).toString('utf8'); pos += n; return s; };
  const bin = (n) => { need(n); const b = bytes.slice(pos, pos + n); pos += n; return b; };
  const arr = (n) => { if (n > bytes.length - pos) throw new Error('count'); const a = []; for (let i = 0; i < n; i++) a.push(dec()); return a; };
  const map = (n) => {
    if (2 * n > bytes.length - pos) throw new Error('count');
    const m = {};
    for (let i = 0; i < n; i++) { const k = dec(); m[String(k)] = dec(); }
    return m;
  };
  const v = dec();
  if (exact && pos !== bytes.length) throw new Error('trailing bytes');
  return v;
}

function valid(bytes) {
  try { decode(bytes); return true; } catch { return false; }
}

// ---- the runtime ----

class ActorExit extends Error {
  constructor(code) { super(`exit ${code}`); this.code = code; }
}
class Abandoned extends Error {}

const TRAPS = [
  [/divide by zero/, 'integer divide by zero'],
  [/unreachable/, 'unreachable'],
  [/out of bounds/, 'out of bounds memory access'],
];

export class Runtime {
  constructor({ mailboxCap = 1024, idleLimit = 3 } = {}) {
    this.modules = new Map();
    this.actors = new Map();
    this.nextSlot = 1n;
    this.mailboxCap = mailboxCap;
    this.idleLimit = idleLimit;
    this.logs = [];     // {id, level, text}
    this.replies = new Map(); // corr -> bytes, for the embedder's calls
    this.nextCorr = 1;
    this.sends = 0;     // messages delivered between actors
  }

  addModule(name, bytes) {
    this.modules.set(name, new WebAssembly.Module(bytes));
  }

  // Spawns an actor; returns its id (BigInt). Throws on a module that
  // cannot be linked or exports neither style.
  spawn(name, init = null) {
    const module = this.modules.get(name);
    if (!module) return BigInt(E.NOMODULE);
    const id = (1n << 48n) | (this.nextSlot++ << 16n) | 1n;
    const actor = {
      id, name, mailbox: [], current: null, alive: true, reason: null,
      idle: 0, instance: null,
    };
    actor.instance = new WebAssembly.Instance(module, {
      shoal: this.imports(actor),
      wasi_snapshot_preview1: {},
    });
    const ex = actor.instance.exports;
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new Error(`${name}: no memory export`);
    actor.reactive = typeof ex.shoal_handle === 'function';
    if (!actor.reactive && typeof ex.shoal_main !== 'function') throw new Error(`${name}: no entry`);
    this.actors.set(id, actor);
    const initBytes = init === null ? new Uint8Array(0) : (init instanceof Uint8Array ? init : encode(init));
    if (actor.reactive) {
      if (typeof ex.shoal_init === 'function') {
        actor.current = { kind: KIND.INIT, sender: 0n, bytes: initBytes };
        this.enter(actor, () => ex.shoal_init(initBytes.length));
        actor.current = null;
      }
    } else if (initBytes.length > 0) {
      actor.mailbox.push({ kind: KIND.INIT, sender: 0n, bytes: initBytes });
    }
    return id;
  }

  // Runs fn (an export) for actor; turns exit and traps into exit reasons.
  enter(actor, fn) {
    try {
      const rc = fn();
      if (actor.reactive && rc !== 0) this.exit(actor, `exit code ${rc}`);
      if (!actor.reactive) this.exit(actor, 'normal');
    } catch (e) {
      if (e instanceof ActorExit) this.exit(actor, e.code === 0 ? 'normal' : `exit code ${e.code}`);
      else if (e instanceof Abandoned) this.exit(actor, 'abandoned by the model');
      else if (e instanceof WebAssembly.RuntimeError) {
        const t = TRAPS.find(([re]) => re.test(e.message));
        this.exit(actor, `trap: ${t ? t[1] : e.message}`);
      } else throw e;
    }
  }

  exit(actor, reason) {
    if (!actor.alive) return;
    actor.alive = false;
    actor.reason = reason;
  }

  deliver(to, msg) {
    const a = this.actors.get(to);
    if (!a || !a.alive) return E.NOACTOR;
    if (msg.kind !== KIND.REPLY && a.mailbox.length >= this.mailboxCap) return E.FULL;
    a.mailbox.push(msg);
    return 0;
  }

  // The embedder's send (sender 0) and call (the reply lands in
  // this.replies under the returned correlation id).
  send(to, value) {
    return this.deliver(to, { kind: KIND.CAST, sender: 0n, bytes: value instanceof Uint8Array ? value : encode(value) });
  }
  call(to, value) {
    const corr = this.nextCorr++;
    const rc = this.deliver(to, { kind: KIND.REQUEST, sender: 0n, corr, bytes: value instanceof Uint8Array ? value : encode(value) });
    return rc < 0 ? rc : corr;
  }

  // Runs until no reactive actor has mail, and each long-running actor
  // has run once.
  run(maxSteps = 1e6) {
    for (let step = 0; step < maxSteps; step++) {
      let progress = false;
      for (const a of this.actors.values()) {
        if (!a.alive) continue;
        const ex = a.instance.exports;
        if (!a.reactive) {
          if (!a.started) {
            a.started = true;
            progress = true;
            this.enter(a, () => ex.shoal_main());
          }
          continue;
        }
        if (a.mailbox.length === 0) continue;
        progress = true;
        a.current = a.mailbox.shift();
        this.enter(a, () => ex.shoal_handle(a.current.bytes.length, a.current.kind));
        a.current = null;
      }
      if (!progress) return;
    }
    throw new Error('no quiescence');
  }

  imports(actor) {
    const rt = this;
    const mem = () => new Uint8Array(actor.instance.exports.memory.buffer);
    const inBounds = (ptr, len) => ptr >= 0 && len >= 0 && ptr + len <= mem().length;
    const read = (ptr, len) => mem().slice(ptr, ptr + len);
    const outgoing = (ptr, len) => {
      if (len < 0 || !inBounds(ptr >>> 0, len)) return E.FAULT;
      if (len > MAX_MESSAGE) return E.LIMIT;
      const bytes = read(ptr >>> 0, len);
      return valid(bytes) ? bytes : E.MALFORMED;
    };
    return {
      self: () => actor.id,
      send(to, ptr, len) {
        const bytes = outgoing(ptr, len);
        if (typeof bytes === 'number') return bytes;
        const rc = rt.deliver(BigInt.asUintN(64, to), { kind: KIND.CAST, sender: actor.id, bytes });
        if (rc === 0) rt.sends++;
        return rc;
      },
      receive(timeout) {
        if (actor.mailbox.length === 0) {
          if (++actor.idle >= rt.idleLimit) throw new Abandoned();
          return E.TIMEOUT;
        }
        actor.idle = 0;
        actor.current = actor.mailbox.shift();
        return actor.current.bytes.length;
      },
      msg_read(ptr, cap) {
        if (!actor.current) return E.NOMSG;
        if (cap < 0) return E.FAULT;
        const n = Math.min(cap, actor.current.bytes.length);
        if (!inBounds(ptr >>> 0, n)) return E.FAULT;
        mem().set(actor.current.bytes.subarray(0, n), ptr >>> 0);
        return actor.current.bytes.length;
      },
      msg_sender: () => (actor.current ? actor.current.sender : 0n),
      msg_kind: () => (actor.current ? actor.current.kind : E.NOMSG),
      call: () => E.TIMEOUT,
      reply(ptr, len) {
        if (!actor.current || actor.current.kind !== KIND.REQUEST) return E.NOMSG;
        const bytes = outgoing(ptr, len);
        if (typeof bytes === 'number') return bytes;
        if (actor.current.sender === 0n) rt.replies.set(actor.current.corr, bytes);
        return 0;
      },
      spawn(namePtr, nameLen, initPtr, initLen) {
        if (!inBounds(namePtr >>> 0, nameLen) || !inBounds(initPtr >>> 0, initLen)) return BigInt(E.FAULT);
        const name = Buffer.from(read(namePtr >>> 0, nameLen)).toString();
        const init = read(initPtr >>> 0, initLen);
        if (initLen > 0 && !valid(init)) return BigInt(E.MALFORMED);
        return rt.spawn(name, initLen > 0 ? init : null);
      },
      exit(code) { throw new ActorExit(code); },
      log(level, ptr, len) {
        if (!inBounds(ptr >>> 0, len)) return;
        rt.logs.push({ id: actor.id, level, text: Buffer.from(read(ptr >>> 0, len)).toString() });
      },
      link: () => 0,
      unlink: () => 0,
      monitor: () => 1n,
      demonitor: () => 0,
      trap_exit: () => 0,
    };
  }
}
