/** Why a value could not be turned into JSON (or read back). */
export type SerializationErrorReason = 'max_depth' | 'max_size' | 'circular' | 'unsupported';

/**
 * Framework-free error raised by `SerializationService`. `path` is a JSONPath-like
 * location (`$.a.b[3]`) of the offending value so oversized or cyclic model outputs can be
 * traced without dumping the payload into logs.
 */
export class SerializationError extends Error {
  override readonly name = 'SerializationError';

  constructor(
    readonly reason: SerializationErrorReason,
    readonly path: string,
    detail: string,
  ) {
    super(`Serialization failed (${reason}) at ${path}: ${detail}`);
  }
}
