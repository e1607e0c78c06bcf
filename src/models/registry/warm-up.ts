import { TensorSpec } from '../repository/model-manifest';
import { elementCount, NamedTensors, TYPED_ARRAYS } from '../tensors/tensor';

/** Zero-valued inputs of one row (variable dims → 1), for the warm-up inference at load. */
export function warmUpInputs(inputs: TensorSpec[]): NamedTensors {
  const feeds: NamedTensors = {};
  for (const spec of inputs) {
    const shape = spec.shape.map((d) => (d === -1 ? 1 : d));
    const n = elementCount(shape);
    feeds[spec.name] = spec.datatype === 'BYTES'
      ? { datatype: 'BYTES', shape, data: new Array<string>(n).fill('') }
      : { datatype: spec.datatype, shape, data: new TYPED_ARRAYS[spec.datatype](n) };
  }
  return feeds;
}
