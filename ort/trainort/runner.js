// runner.js: runs one ONNX model on ONNX Runtime's training build for
// WebAssembly (onnxruntime-web, ort.training.wasm.min.js) under Node.js.
// Driven by package trainort: the request is JSON on stdin, the reply one
// JSON line on stdout; tensors travel as raw little-endian files.
//
// request: {ortDir, model, feeds: [{name, elem, dims, file}], outputs: [names],
//           outDir, runs, session: {graphOptimizationLevel, enableCpuMemArena,
//           enableMemPattern}}
// reply:   {outputs: [{name, elem, dims, file}], seconds: [per run],
//           peakBytes, sessionBytes, deterministic, hwmReset}
//          or {error: "one line"} with exit status 1.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

// ONNX TensorProto element types <-> onnxruntime-web tensor types.
const toWeb = {1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64'};
const fromWeb = Object.fromEntries(Object.entries(toWeb).map(([k, v]) => [v, Number(k)]));
const arrays = {float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, int32: Int32Array,
  int64: BigInt64Array, bool: Uint8Array, float16: Uint16Array, float64: Float64Array, uint32: Uint32Array, uint64: BigUint64Array};

function status(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp('^' + field + ':\\s+(\\d+) kB', 'm'));
  return m ? Number(m[1]) * 1024 : -1;
}

function resetPeak() {
  try { fs.writeFileSync('/proc/self/clear_refs', '5'); return true; } catch (e) { return false; }
}

function oneLine(e) {
  let s = String(e && e.message ? e.message : e);
  s = s.split('\n').map((l) => l.trim()).filter((l) => l).join(' ');
  return s.length > 2000 ? s.slice(0, 2000) + '...' : s;
}

function fail(e) {
  process.stdout.write(JSON.stringify({error: oneLine(e)}) + '\n');
  process.exit(1);
}

function readStdin() {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => { data += c; });
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

function tensorOf(ort, f) {
  const type = toWeb[f.elem];
  if (!type) throw new Error(`input ${f.name}: element type ${f.elem} is not supported by the runner`);
  const buf = fs.readFileSync(f.file);
  const A = arrays[type];
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  let data = new A(copy.buffer, 0, copy.byteLength / A.BYTES_PER_ELEMENT);
  if (type === 'bool') data = Uint8Array.from(data, (x) => (x ? 1 : 0));
  return new ort.Tensor(type, data, f.dims);
}

function bytesOf(t) {
  const d = t.data;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

async function main() {
  const req = JSON.parse(await readStdin());
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const ort = require(path.join(req.ortDir, 'ort.training.wasm.min.js'));
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = req.ortDir + '/';
  ort.env.logLevel = 'error';
  const before = status('VmRSS');
  const session = await ort.InferenceSession.create(fs.readFileSync(req.model), Object.assign({executionMode: 'sequential'}, req.session));
  const feeds = {};
  for (const f of req.feeds) feeds[f.name] = tensorOf(ort, f);
  const names = req.outputs && req.outputs.length ? req.outputs : session.outputNames;
  const seconds = [];
  let first = null;
  let deterministic = true;
  let peak = -1;
  let ready = -1;
  const hwmReset = resetPeak();
  const created = status('VmRSS');
  for (let r = 0; r < Math.max(1, req.runs); r++) {
    if (r === 0) {
      // Collect the JavaScript heap and let V8 return what it frees, then
      // take the reset peak (the resident size now) as the baseline.
      if (global.gc) global.gc();
      await new Promise((resolve) => setTimeout(resolve, 100));
      resetPeak();
      ready = status('VmHWM');
    }
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds, names);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r === 0) {
      // wasm memory never shrinks: the first run's growth is the peak.
      peak = status('VmHWM') - ready;
      first = out;
      continue;
    }
    for (const n of names) {
      const a = crypto.createHash('sha256').update(bytesOf(first[n])).digest('hex');
      const b = crypto.createHash('sha256').update(bytesOf(out[n])).digest('hex');
      if (a !== b) deterministic = false;
    }
  }
  const outputs = names.map((n, i) => {
    const t = first[n];
    const file = path.join(req.outDir, `out_${i}.bin`);
    fs.writeFileSync(file, bytesOf(t));
    return {name: n, elem: fromWeb[t.type] || 0, dims: t.dims, file};
  });
  process.stdout.write(JSON.stringify({outputs, seconds, peakBytes: hwmReset ? peak : -1, sessionBytes: created - before, deterministic, hwmReset}) + '\n');
  process.exit(0);
}

main().catch(fail);
