import { TensorDatatype } from '../repository/model-manifest';

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | string[];

/** A dense tensor in row-major order; the runtime-neutral currency between the API and runtimes. */
export interface Tensor {
  datatype: TensorDatatype;
  shape: number[];
  data: TensorData;
}

export type NamedTensors = Record<string, Tensor>;

/** Typed-array constructor for each numeric V2 datatype (FP16 travels as its uint16 bits). */
export const TYPED_ARRAYS = {
  BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
} as const;

export const elementCount = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** Bytes the tensors' data holds in memory (strings at two bytes a character). */
export function tensorBytes(tensors: NamedTensors): number {
  let bytes = 0;
  for (const name in tensors) {
    const { data } = tensors[name];
    if (Array.isArray(data)) for (const s of data as string[]) bytes += 2 * s.length;
    else bytes += data.byteLength;
  }
  return bytes;
}
