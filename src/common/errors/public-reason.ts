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

/** The most of a library's run-time message an answer carries (the rest stays in the log). */
export const MAX_PUBLIC_MESSAGE_LENGTH = 400;

/** Absolute paths with a line number (`/src/onnxruntime/core/x.h:563`, `C:\src\x.cc:12`), then any other absolute path. */
const SOURCE_LOCATION = /(?:[A-Za-z]:)?(?:[\\/][\w.+-]+)+\.\w+:\d+(?::\d+)?/g;
const ABSOLUTE_PATH = /(?<![\w.])(?:[A-Za-z]:\\|\/)(?:[\w.+-]+[\\/])+[\w.+-]*/g;
/** A C++ signature in an assertion text: `void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t)`. */
const NATIVE_SIGNATURE = /(?:\b[\w:<>*&]+\s+)?\b\w+(?:::~?\w+)+\s*\([^()]*\)(?:\s*const)?/g;
/** ANSI colour codes (onnxruntime colours its log lines). */
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * What a library's run-time failure text (onnxruntime refusing an input) may say to a caller: its
 * own words, without source locations, absolute paths, native signatures, colour codes or line
 * breaks, at most {@link MAX_PUBLIC_MESSAGE_LENGTH} characters. Unlike a load failure, this text
 * is the caller's only clue to what in its request the model cannot run.
 */
export function publicRuntimeMessage(text: string): string {
  const clean = text
    .replace(ANSI, '')
    .replace(SOURCE_LOCATION, '')
    .replace(ABSOLUTE_PATH, '<path>')
    .replace(NATIVE_SIGNATURE, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean.length === 0) return 'no reason given';
  return clean.length <= MAX_PUBLIC_MESSAGE_LENGTH ? clean : `${clean.slice(0, MAX_PUBLIC_MESSAGE_LENGTH - 1)}…`;
}
