import { InferenceSession, Tensor } from 'onnxruntime-node';
async function main() {
  for (const threads of [1, 2]) {
    const s = await InferenceSession.create('bench/.models/bench-mlp-xl/1/model.onnx', { intraOpNumThreads: threads, extra: { session: { intra_op: { allow_spinning: '0' } } } } as any);
    for (const b of [32, 64]) {
      const feeds = { input: new Tensor('float32', new Float32Array(b * 2048).map(() => Math.random()), [b, 2048]) };
      await s.run(feeds);
      const c0 = process.cpuUsage(); const st = performance.now(); let n = 0;
      while (performance.now() - st < 3000) { await s.run(feeds); n++; }
      const ms = (performance.now() - st) / n; const cpu = process.cpuUsage(c0);
      console.log(`threads ${threads} batch ${b}: ${ms.toFixed(1)} ms/run, ${(b * 1000 / ms).toFixed(0)} rows/s, cpu ${((cpu.user + cpu.system) / 1000 / (performance.now() - st)).toFixed(2)} cores`);
    }
    await s.release();
  }
}
main();
