// Runs the example actors (the .wasm files meson built) in the JavaScript
// model of the runtime (abi_model.mjs) and checks what they do against
// examples/actors/README.md. Prints TAP.
//
// usage: node run_examples.mjs NAME=PATH...   (echo, counter, pingpong,
//        receiver, spinner, trapper)
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Runtime, encode, decode, E } from './abi_model.mjs';

const paths = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const bytes = Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, readFileSync(p)]));

function runtime(opts) {
  const rt = new Runtime(opts);
  for (const [name, b] of Object.entries(bytes)) rt.addModule(name, b);
  return rt;
}

let n = 0;
let failed = 0;
async function test(name, fn) {
  n++;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(e.stack || e).split('\n')) console.log(`#   ${line}`);
  }
}
function eq(got, want, what = '') {
  const g = JSON.stringify(got, (k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  const w = JSON.stringify(want, (k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}
const reply = (rt, corr) => decode(rt.replies.get(corr));

await test('echo answers a request with the same bytes', () => {
  const rt = runtime();
  const id = rt.spawn('echo');
  const msg = encode({ a: [1, -2, 'three'], b: null });
  const corr = rt.call(id, msg);
  rt.run();
  eq(Array.from(rt.replies.get(corr)), Array.from(msg), 'reply');
  eq(rt.actors.get(id).alive, true, 'alive');
});

await test('echo reads a 300 KB message through malloc, without _initialize', () => {
  const rt = runtime();
  const id = rt.spawn('echo');
  const big = new Uint8Array(300000).map((_, i) => (i * 13) & 0xff);
  const msg = encode(big);
  const corr = rt.call(id, msg);
  rt.run();
  eq(Buffer.compare(Buffer.from(rt.replies.get(corr)), Buffer.from(msg)), 0, 'reply');
});

await test('echo sends a cast back to an actor, drops one from the embedder', () => {
  const rt = runtime();
  const echo = rt.spawn('echo');
  const counter = rt.spawn('counter', 0);
  rt.send(echo, 'inc'); // from the embedder: dropped
  rt.run();
  eq(rt.sends, 0, 'sends');
  // Make the counter the sender: it casts nothing itself, so deliver a
  // cast from it by hand, as the runtime would.
  rt.actors.get(echo).mailbox.push({ kind: 0, sender: counter, bytes: encode('inc') });
  rt.run();
  eq(rt.sends, 1, 'sends');
  const corr = rt.call(counter, 'get');
  rt.run();
  eq(reply(rt, corr), 1n, 'count');
});

await test('counter: inc and get', () => {
  const rt = runtime();
  const id = rt.spawn('counter', 40);
  const c1 = rt.call(id, 'inc');
  rt.send(id, 'inc');
  const c2 = rt.call(id, 'get');
  const c3 = rt.call(id, 'nonsense');
  rt.run();
  eq(reply(rt, c1), 41n, 'inc');
  eq(reply(rt, c2), 42n, 'get');
  eq(reply(rt, c3), { error: 'unknown command' }, 'unknown');
  const bad = rt.spawn('counter', 'zero');
  eq(rt.actors.get(bad).reason, 'exit code 2', 'bad init');
});

await test('pingpong: a rally of 1000 and both exit normally', () => {
  const rt = runtime();
  const b = rt.spawn('pingpong');
  const a = rt.spawn('pingpong', { peer: b, count: 1000 });
  rt.run();
  eq(rt.sends, 1001, 'casts');
  eq(rt.actors.get(a).reason, 'normal', 'a');
  eq(rt.actors.get(b).reason, 'normal', 'b');
});

await test('pingpong: stay, and the ball count on request', () => {
  const rt = runtime();
  const b = rt.spawn('pingpong', { stay: true });
  const a = rt.spawn('pingpong', { peer: b, count: 5, stay: true });
  rt.run();
  const ca = rt.call(a, null);
  const cb = rt.call(b, null);
  rt.run();
  eq([reply(rt, ca), reply(rt, cb)], [3n, 3n], 'balls'); // a: 4 2 0, b: 5 3 1
  const gone = rt.spawn('pingpong', { peer: 12345, count: 1 });
  eq(rt.actors.get(gone).reason, 'exit code 3', 'no peer');
  const bad = rt.spawn('pingpong', [1]);
  eq(rt.actors.get(bad).reason, 'exit code 2', 'bad init');
});

await test('trapper: ok, then each trap', () => {
  const rt = runtime();
  const want = {
    boom: 'trap: integer divide by zero',
    unreachable: 'trap: unreachable',
    oob: 'trap: out of bounds memory access',
  };
  for (const [cmd, reason] of Object.entries(want)) {
    const id = rt.spawn('trapper');
    const ok = rt.call(id, 'hello');
    rt.send(id, cmd);
    rt.run();
    eq(reply(rt, ok), 'ok', 'reply');
    eq(rt.actors.get(id).reason, reason, cmd);
  }
});

await test('receiver: logs, replies, stops', () => {
  const rt = runtime();
  const id = rt.spawn('receiver', { timeout_ms: 0 });
  rt.send(id, 'hello');
  const echo = rt.call(id, [1, 2]);
  const stop = rt.call(id, 'stop');
  rt.run();
  eq(reply(rt, echo), [1n, 2n], 'echoed');
  eq(reply(rt, stop), 'stopping', 'stop reply');
  eq(rt.actors.get(id).reason, 'normal', 'reason');
  eq(rt.logs.map((l) => [l.level, l.text]), [
    [1, 'receiver: init from 0 (13 bytes): {"timeout_ms": 0}'],
    [1, 'receiver: cast from 0 (6 bytes): "hello"'],
    [1, 'receiver: request from 0 (3 bytes): [1, 2]'],
    [1, 'receiver: request from 0 (5 bytes): "stop"'],
    [1, 'receiver: stopping'],
  ], 'logs');
});

await test('receiver: crash exits with code 3, idle waits time out', () => {
  const rt = runtime();
  const id = rt.spawn('receiver');
  const crash = rt.call(id, 'crash');
  rt.run();
  eq(rt.actors.get(id).reason, 'exit code 3', 'reason');
  eq(rt.replies.has(crash), false, 'no reply');
  const idle = rt.spawn('receiver');
  rt.run();
  eq(rt.logs.filter((l) => l.id === idle).map((l) => [l.level, l.text]),
    [[0, 'receiver: idle'], [0, 'receiver: idle']], 'idle');
});

await test('spinner: logs once and is still spinning after 300 ms', async () => {
  const src = `
    import { parentPort, workerData } from 'node:worker_threads';
    const m = new WebAssembly.Module(workerData);
    let inst;
    const log = (l, p, n) => parentPort.postMessage(Buffer.from(
      new Uint8Array(inst.exports.memory.buffer, p, n)).toString());
    const no = () => { throw new Error('unexpected import call'); };
    const shoal = new Proxy({ log }, { get: (t, k) => t[k] || no });
    const names = WebAssembly.Module.imports(m).map((i) => i.name);
    inst = new WebAssembly.Instance(m, { shoal: Object.fromEntries(
      names.map((k) => [k, shoal[k]])) });
    inst.exports.shoal_main();
    parentPort.postMessage('returned');`;
  const w = new Worker(src, { eval: true, workerData: bytes.spinner });
  const seen = [];
  w.on('message', (m) => seen.push(m));
  const errors = [];
  w.on('error', (e) => errors.push(e));
  await new Promise((r) => setTimeout(r, 300));
  await w.terminate();
  eq(errors.map(String), [], 'errors');
  eq(seen, ['spinner: spinning'], 'messages');
});

console.log(`1..${n}`);
process.exit(failed > 0 ? 1 : 0);
