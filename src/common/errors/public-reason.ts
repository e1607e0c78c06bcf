/**
 * What a failure that came from a library (the file system, JSON.parse, onnxruntime) may say to a
 * caller: our own words for its class, never its text — that text names absolute paths, native
 * frames or exception classes, and it stays in the server's log (with the model and version, or the
 * request id). The one place such text is turned into something an answer may carry.
 */
export function publicFileReason(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof SyntaxError) return 'not valid JSON';
  switch (code) {
    case 'ENOENT': return 'missing';
    case 'EACCES':
    case 'EPERM': return 'not readable (permission denied)';
    case 'EISDIR': return 'a directory, not a file';
    default: return 'not readable';
  }
}

/** A load failure whose message is ours and safe to show (a signature mismatch, a missing file named relative to the repository). */
export class SafeLoadError extends Error {}

/**
 * The public reason of a model version's load failure: our own message as it is, anything else
 * (onnxruntime's) in our words. `file`: the model file's name (no folder), for those words.
 */
export function publicLoadReason(error: unknown, file = 'model.onnx'): string {
  if (error instanceof SafeLoadError) return error.message;
  return `onnxruntime could not load ${file} (its message is in the server log)`;
}
