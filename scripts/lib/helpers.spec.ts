import { onnx } from 'onnx-proto';
import { fromRows, solve } from './matrix';
import { TensorSpec, linearRegressorGraph } from './onnx-graph';
import { mulberry32 } from './random';
import { randomSplit, stratifiedSplit } from './split';

describe('mulberry32', () => {
  it('is reproducible for a seed and stays in [0, 1)', () => {
    const [a, b] = [mulberry32(7), mulberry32(7)];
    const draws = Array.from({ length: 1000 }, () => a());
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(draws.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('splits', () => {
  it('stratifiedSplit holds out the requested rows per class and partitions all rows', () => {
    const classes = [...Array(50).fill(0), ...Array(20).fill(1)];
    const { train, test } = stratifiedSplit(classes, (n) => Math.round(n * 0.2), mulberry32(1));
    expect(test.filter((i) => classes[i] === 0)).toHaveLength(10);
    expect(test.filter((i) => classes[i] === 1)).toHaveLength(4);
    expect([...train, ...test].sort((x, y) => x - y)).toEqual(classes.map((_, i) => i));
  });

  it('randomSplit holds out round(n * fraction) rows', () => {
    const { train, test } = randomSplit(392, 0.2, mulberry32(1));
    expect([train.length, test.length]).toEqual([314, 78]);
  });
});

describe('solve', () => {
  it('solves a system that needs pivoting', () => {
    const x = solve(fromRows([[0, 2], [3, 1]]), Float64Array.of(4, 5));
    expect(Array.from(x)).toEqual([1, 2]);
  });
});

describe('linearRegressorGraph', () => {
  // Decoded with onnx-proto rather than run in onnxruntime: under jest's sandbox onnxruntime-node
  // output tensors fail its Float32Array realm check. build-models.ts runs every model in onnxruntime.
  const spec = (name: string, width: number): TensorSpec => ({ name, datatype: 'FP32', shape: [-1, width] });
  const build = () => {
    const layer = { weights: { rows: 2, cols: 1, data: Float64Array.of(1, -1) }, bias: Float64Array.of(0.5) };
    const graph = linearRegressorGraph(spec('input', 2), spec('value', 1), { mean: [10, 20], std: [2, 4] }, layer);
    return graph.toModel('t', spec('value', 1), 1, 'test');
  };

  it('encodes IR 8 / opset 17 with standardisation in the graph and a symbolic batch dim', () => {
    const model = onnx.ModelProto.decode(build());
    expect([Number(model.irVersion), Number(model.opsetImport[0].version), model.opsetImport[0].domain]).toEqual([8, 17, '']);
    const graph = model.graph!;
    expect(graph.node!.map((n) => n.opType)).toEqual(['Sub', 'Div', 'MatMul', 'Add']);
    expect(graph.node!.at(-1)!.output).toEqual(['value']);
    expect(graph.input![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    const mean = graph.initializer!.find((t) => t.name === 'feature_mean')!;
    expect(Array.from(new Float32Array(Uint8Array.from(mean.rawData!).buffer))).toEqual([10, 20]);
  });

  it('is byte-for-byte deterministic', () => {
    expect(Buffer.from(build()).equals(Buffer.from(build()))).toBe(true);
  });
});
