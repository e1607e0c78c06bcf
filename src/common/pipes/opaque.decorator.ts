/** Per DTO class, the properties the validation pipe checks by shape only (see {@link Opaque}). */
const OPAQUE = new WeakMap<object, Set<string>>();

/**
 * Marks a DTO property whose contents the validation pipe must not walk or copy: its own
 * decorators still check it (against an empty stand-in of the same kind: array, object or the
 * value itself), then the value goes to the handler as it came. For large payloads that a later
 * stage validates element by element anyway (feature vectors and tensors, checked by the model's
 * encoder); the input-limits middleware has already bounded their depth, strings and keys.
 */
export function Opaque(): PropertyDecorator {
  return (target, key) => {
    const set = OPAQUE.get(target.constructor) ?? new Set<string>();
    set.add(String(key));
    OPAQUE.set(target.constructor, set);
  };
}

export function opaquePropertiesOf(type: unknown): ReadonlySet<string> | undefined {
  return typeof type === 'function' ? OPAQUE.get(type) : undefined;
}
