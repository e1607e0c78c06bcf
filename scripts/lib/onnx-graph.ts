import { onnx } from 'onnx-proto';
import { DenseLayer, Standardizer } from './train';

/** Tensor signature as written to model.json; -1 marks the dynamic batch dimension. */
export interface TensorSpec {
  name: string;
  datatype: 'FP32';
  shape: number[];
}

/** Symbolic name for dynamic dims: ONNX forbids negative dim_value, so -1 becomes a dim_param. */
export const BATCH_DIM = 'batch';

const IR_VERSION = 8;
const OPSET = 17;

/** FLOAT tensor stored as little-endian raw bytes (explicit endianness keeps output host-independent). */
function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes };
}

function valueInfo({ name, shape }: TensorSpec): onnx.IValueInfoProto {
  const dim = shape.map((d) => (d < 0 ? { dimParam: BATCH_DIM } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}

/** Accumulates nodes and initializers for a single-input, single-output inference graph. */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];

  constructor(readonly input: TensorSpec) {}

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  node(opType: string, inputs: string[], output: string, attribute: onnx.IAttributeProto[] = []): string {
    this.nodes.push({ name: output, opType, input: inputs, output: [output], attribute });
    return output;
  }

  /** (x - mean) / std with training-split statistics, so clients send raw feature values. */
  standardize(x: string, { mean, std }: Standardizer): string {
    const centred = this.node('Sub', [x, this.constant('feature_mean', [mean.length], mean)], 'centred');
    return this.node('Div', [centred, this.constant('feature_std', [std.length], std)], 'standardized');
  }

  /** x W + b as MatMul + Add (Add broadcasts the [out] bias over the batch). */
  dense(x: string, { weights, bias }: DenseLayer, prefix: string, output = `${prefix}_out`): string {
    const w = this.constant(`${prefix}_weight`, [weights.rows, weights.cols], weights.data);
    const b = this.constant(`${prefix}_bias`, [bias.length], bias);
    return this.node('Add', [this.node('MatMul', [x, w], `${prefix}_matmul`), b], output);
  }

  relu(x: string, output: string): string {
    return this.node('Relu', [x], output);
  }

  softmax(x: string, output: string): string {
    const axis = { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 };
    return this.node('Softmax', [x], output, [axis]);
  }

  toModel(graphName: string, output: TensorSpec, modelVersion: number, docString: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'nest-model-server scripts/build-models.ts',
      modelVersion,
      docString,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(this.input)],
        output: [valueInfo(output)],
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Raw features -> standardise -> [Dense+ReLU]* -> Dense -> Softmax. */
export function softmaxNetworkGraph(
  input: TensorSpec,
  output: TensorSpec,
  standardizer: Standardizer | null,
  layers: readonly DenseLayer[],
): GraphBuilder {
  const g = new GraphBuilder(input);
  let x = standardizer ? g.standardize(input.name, standardizer) : input.name;
  layers.forEach((layer, l) => {
    x = g.dense(x, layer, `layer${l}`);
    if (l < layers.length - 1) x = g.relu(x, `layer${l}_relu`);
  });
  g.softmax(x, output.name);
  return g;
}

/** Raw features -> standardise -> Dense. */
export function linearRegressorGraph(
  input: TensorSpec,
  output: TensorSpec,
  standardizer: Standardizer,
  layer: DenseLayer,
): GraphBuilder {
  const g = new GraphBuilder(input);
  g.dense(g.standardize(input.name, standardizer), layer, 'linear', output.name);
  return g;
}
