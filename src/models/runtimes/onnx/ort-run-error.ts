import { publicRuntimeMessage } from '../../../common/errors/public-reason';
import { RuntimeInputError, RuntimeRunError } from '../runtime-errors';

/**
 * onnxruntime's texts for a run it refuses because of the inputs, as onnxruntime-node 1.30 words
 * them (found by running the PaddleOCR det model on bad shapes and types): the session's own input
 * checks (rank, fixed dims, element type), a feed missing, and a kernel failing on a shape the
 * graph cannot take (a broadcast, a convolution or a reshape of the wrong size).
 */
const INPUT_FAULTS: readonly RegExp[] = [
  /\bInvalid rank for input\b/,
  /\bGot invalid dimensions for input\b/,
  /\bUnexpected input data type\b/,
  /\binput '[^']*' is missing in 'feeds'/,
  /\bInvalid input shape\b/i,
  /\bbroadcast\b/i,
  /\bshape\b/i,
  /\bdimensions?\b/i,
  /\bmismatch(?:ed)?\b/i,
];

/**
 * A failed `session.run` as the runtime port's error: its message made public, and a
 * {@link RuntimeInputError} when the text says the inputs were at fault (else {@link RuntimeRunError}).
 */
export function ortRunError(error: unknown): RuntimeRunError {
  // Read by shape: onnxruntime-node's native errors need not be instances of this realm's Error.
  const message = (error as { message?: unknown } | undefined)?.message;
  const text = typeof message === 'string' ? message : String(error);
  const reason = publicRuntimeMessage(text);
  return INPUT_FAULTS.some((pattern) => pattern.test(text)) ? new RuntimeInputError(reason) : new RuntimeRunError(reason);
}
