import { ModelManifest, TensorSpec } from './model-manifest';

const DATATYPES = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0);

function tensorProblems(list: unknown, field: string): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [`${field} must be an array`];
  return list.flatMap((t: unknown, i) => {
    const spec = t as Partial<TensorSpec>;
    const problems: string[] = [];
    if (!isObject(t) || typeof spec.name !== 'string') problems.push(`${field}[${i}].name must be a string`);
    if (isObject(t) && !DATATYPES.has(String(spec.datatype))) problems.push(`${field}[${i}].datatype must be a V2 datatype`);
    if (isObject(t) && !(Array.isArray(spec.shape) && spec.shape.every((d) => Number.isInteger(d) && d >= -1))) {
      problems.push(`${field}[${i}].shape must be an array of integers (-1 = variable)`);
    }
    return problems;
  });
}

/**
 * Checks a parsed model.json against what the server relies on. Returns every problem, or none.
 * `name` may be left out (it is the folder's); when given it must equal `folderName`, so a model is
 * addressed by the folder it lives in.
 */
export function manifestProblems(raw: unknown, folderName: string): string[] {
  if (!isObject(raw)) return ['model.json must be a JSON object'];
  const m = raw as Partial<ModelManifest>;
  const problems: string[] = [];
  if (m.name !== undefined && (typeof m.name !== 'string' || !NAME.test(m.name))) problems.push('name must be 1-64 chars of [A-Za-z0-9._-]');
  else if (m.name !== undefined && m.name !== folderName) problems.push(`name '${m.name}' must equal its folder name '${folderName}'`);
  if (m.runtime !== undefined && m.runtime !== 'onnx') problems.push(`runtime '${String(m.runtime)}' is not supported (onnx)`);
  if (m.task !== undefined && m.task !== 'classification' && m.task !== 'regression') problems.push('task must be classification or regression');
  if (m.features !== undefined && (!isStringList(m.features) || new Set(m.features).size !== m.features.length)) {
    problems.push('features must be a list of distinct non-empty names');
  }
  if (m.labels !== undefined && !isStringList(m.labels)) problems.push('labels must be a list of non-empty strings');
  problems.push(...tensorProblems(m.inputs, 'inputs'), ...tensorProblems(m.outputs, 'outputs'));
  if (m.dynamic_batching !== undefined && m.dynamic_batching !== false && !isObject(m.dynamic_batching)) {
    problems.push('dynamic_batching must be an object or false');
  }
  if (m.worker_thread !== undefined && typeof m.worker_thread !== 'boolean') problems.push('worker_thread must be a boolean');
  problems.push(...sessionOptionProblems(m.session_options));
  return problems;
}

const OPTIMIZATION_LEVELS = new Set(['disabled', 'basic', 'extended', 'all']);

function sessionOptionProblems(options: unknown): string[] {
  if (options === undefined) return [];
  if (!isObject(options)) return ['session_options must be an object'];
  const problems: string[] = [];
  const threads = options.intra_op_num_threads;
  if (threads !== undefined && !(Number.isInteger(threads) && (threads as number) >= 1 && (threads as number) <= 64)) {
    problems.push('session_options.intra_op_num_threads must be an integer from 1 to 64');
  }
  if (options.graph_optimization_level !== undefined && !OPTIMIZATION_LEVELS.has(String(options.graph_optimization_level))) {
    problems.push('session_options.graph_optimization_level must be disabled, basic, extended or all');
  }
  if (options.allow_spinning !== undefined && typeof options.allow_spinning !== 'boolean') {
    problems.push('session_options.allow_spinning must be a boolean');
  }
  return problems;
}
