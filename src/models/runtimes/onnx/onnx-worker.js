'use strict';
/**
 * One onnxruntime session on a worker thread (see onnx-worker-runtime.ts). onnxruntime-node runs
 * `session.run` synchronously on the thread that calls it, so a large model run here leaves the
 * event loop free for HTTP. Plain JavaScript on purpose: worker_threads loads this file as it is,
 * in dist as under ts-node and jest. Protocol (all plain data):
 *   → workerData {path, sessionOptions}; ← {type:'loaded', inputMetadata, outputMetadata} | {type:'loaded', error}
 *   → {type:'run', id, feeds: {name: {type, data, dims}}, handBack?}; ← {type:'result', id, outputs, inputs?} | {type:'result', id, error, inputs?}
 *   handBack: names of the feeds whose memory was moved here (transferred, not copied); their data
 *   goes back in `inputs` ({name: data}), moved again, with the answer or the error.
 *   → {type:'release'}: the session is released and the thread ends.
 * workerData.retired is an Int32Array over shared memory: once the main thread sets it, runs still
 * queued are skipped, so a thread given up on (a stuck run) reaches its 'release' quickly. The main
 * thread never terminates a thread from outside: onnxruntime-node aborts the whole process when a
 * thread is terminated in the middle of a run.
 */
const { parentPort, workerData } = require('node:worker_threads');
const { InferenceSession, Tensor } = require('onnxruntime-node');

const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/** Output buffers move to the main thread instead of being copied; a buffer that cannot move is copied. */
function post(message, buffers) {
  try {
    parentPort.postMessage(message, buffers);
  } catch {
    parentPort.postMessage(message);
  }
}

/** The moved feeds' (`names`) data by name and their memory, to hand back to the main thread. */
function handBack(feeds, names) {
  const inputs = {};
  const buffers = new Set();
  for (const name of names) {
    const t = feeds[name];
    if (!t) continue;
    inputs[name] = t.data;
    if (ArrayBuffer.isView(t.data)) buffers.add(t.data.buffer);
  }
  return { inputs, buffers: [...buffers] };
}

async function main() {
  let session;
  try {
    session = await InferenceSession.create(workerData.path, workerData.sessionOptions);
  } catch (e) {
    parentPort.postMessage({ type: 'loaded', error: messageOf(e) });
    return;
  }
  parentPort.postMessage({ type: 'loaded', inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata });
  parentPort.on('message', async (msg) => {
    if (msg.type === 'release') {
      await session.release();
      parentPort.close();
      return;
    }
    if (workerData.retired && Atomics.load(workerData.retired, 0) === 1) return;
    const lent = msg.handBack ? handBack(msg.feeds, msg.handBack) : undefined;
    try {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new Tensor(t.type, t.data, t.dims);
      const results = await session.run(feeds);
      const outputs = {};
      const buffers = new Set();
      for (const [name, t] of Object.entries(results)) {
        outputs[name] = { type: t.type, data: t.data, dims: t.dims };
        if (ArrayBuffer.isView(t.data)) buffers.add(t.data.buffer);
      }
      if (lent) for (const b of lent.buffers) buffers.add(b);
      post({ type: 'result', id: msg.id, outputs, inputs: lent?.inputs }, [...buffers]);
    } catch (e) {
      post({ type: 'result', id: msg.id, error: messageOf(e), inputs: lent?.inputs }, lent ? lent.buffers : []);
    }
  });
}

main();
