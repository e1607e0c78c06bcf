import { SerializationError } from './serialization.error';

/** Returned by a classifier for values that must disappear (like `undefined` in JSON.stringify). */
export const OMIT: unique symbol = Symbol('OMIT');

type Output = unknown[] | Record<string, unknown>;

/**
 * A container the walker must descend into. `keys === null` means `items` is array-like and
 * the output is an array; otherwise `items[key]` is read for each key into an object.
 */
export class Branch {
  constructor(
    /** Identity used for cycle detection (the original object, not a copy). */
    readonly source: object,
    readonly output: Output,
    readonly items: ArrayLike<unknown> | Readonly<Record<string, unknown>>,
    readonly keys: readonly string[] | null,
  ) {}

  static array(source: object, items: ArrayLike<unknown>): Branch {
    return new Branch(source, [], items, null);
  }

  static object(source: object, items: Readonly<Record<string, unknown>>, keys: readonly string[]): Branch {
    return new Branch(source, {}, items, keys);
  }
}

/** Where the value being classified sits, computed only when an error needs it. */
export type Where = () => string;

/** Maps one input value to a leaf, `OMIT`, or a `Branch` to descend into. Must not recurse. */
export type Classifier = (value: unknown, key: string | number, where: Where) => unknown;

export interface WalkLimits {
  maxDepth: number;
  /** Budget in bytes of the JSON text; `Infinity` disables size accounting. */
  maxSize: number;
}

interface Frame {
  branch: Branch;
  length: number;
  index: number;
  depth: number;
  emitted: number;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function formatPath(stack: readonly Frame[]): string {
  let path = '$';
  for (const { branch, index } of stack) {
    const key = branch.keys ? branch.keys[index - 1] : index - 1;
    if (typeof key === 'number') path += `[${key}]`;
    else path += IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

/**
 * Estimate of `String(value).length` without formatting the number, which would double the
 * cost of encoding a large tensor. Exact for integers and values with ≤ 3 decimals; other
 * finite doubles are charged a typical full-precision length (17 significant digits).
 */
function numberBytes(value: number): number {
  const sign = value < 0 ? 1 : 0;
  const abs = Math.abs(value);
  if (abs >= 1e21) return sign + 23; // exponent notation, e.g. 1.2345678901234567e+21
  const intDigits = abs < 1 ? 1 : Math.floor(Math.log10(abs)) + 1;
  if (Number.isInteger(abs)) return sign + intDigits;
  for (let decimals = 1, scale = 10; decimals <= 3; decimals += 1, scale *= 10) {
    if (Math.round(abs * scale) / scale === abs) return sign + intDigits + 1 + decimals;
  }
  return sign + Math.max(intDigits + 1, 19);
}

/** Approximate UTF-8 size of a JSON leaf (string escapes are not counted). */
function leafBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8') + 2;
  if (typeof value === 'number') return numberBytes(value);
  if (typeof value === 'boolean') return value ? 4 : 5;
  // Small fixed-shape objects a classifier emits whole (e.g. `{ __uuid__ }`, `{ name, message }`).
  if (value !== null && typeof value === 'object') return Buffer.byteLength(JSON.stringify(value), 'utf8');
  return 4;
}

function attach(output: Output, key: string | number, value: unknown): void {
  if (Array.isArray(output)) output.push(value);
  // `__proto__` from parsed JSON is an ordinary key; plain assignment would swap the prototype.
  else if (key === '__proto__') Object.defineProperty(output, key, { value, enumerable: true, writable: true, configurable: true });
  else output[key as string] = value;
}

/** One traversal: explicit stack of open containers plus the running output size. */
class TreeWalk {
  private readonly stack: Frame[] = [];
  private readonly ancestors = new Set<object>();
  private readonly metered: boolean;
  private used = 0;
  private readonly where: Where = () => formatPath(this.stack);

  constructor(
    private readonly classify: Classifier,
    private readonly limits: WalkLimits,
  ) {
    this.metered = Number.isFinite(limits.maxSize);
  }

  run(root: unknown): unknown {
    const first = this.classify(root, '', this.where);
    if (!(first instanceof Branch)) return this.leaf(first);
    this.enter(first, 1);
    while (this.stack.length > 0) this.step(this.stack[this.stack.length - 1]);
    return first.output;
  }

  private step(frame: Frame): void {
    if (frame.index >= frame.length) {
      this.stack.pop();
      this.ancestors.delete(frame.branch.source);
      return;
    }
    const { keys, items, output } = frame.branch;
    const key = keys ? keys[frame.index] : frame.index;
    frame.index += 1;
    const child = this.classify((items as Record<string | number, unknown>)[key], key, this.where);
    // Like JSON.stringify: omitted values vanish from objects and become null in arrays.
    if (child === OMIT && keys) return;
    if (this.metered) this.charge((frame.emitted > 0 ? 1 : 0) + (keys ? Buffer.byteLength(key as string, 'utf8') + 3 : 0));
    frame.emitted += 1;
    if (child instanceof Branch) {
      this.enter(child, frame.depth + 1);
      attach(output, key, child.output);
    } else {
      attach(output, key, this.leaf(child));
    }
  }

  private leaf(value: unknown): unknown {
    const leaf = value === OMIT ? null : value;
    if (this.metered) this.charge(leafBytes(leaf));
    return leaf;
  }

  private enter(branch: Branch, depth: number): void {
    const { maxDepth } = this.limits;
    if (depth > maxDepth) {
      throw new SerializationError('max_depth', this.where(), `nesting exceeds max_depth of ${maxDepth}`);
    }
    if (this.ancestors.has(branch.source)) {
      throw new SerializationError('circular', this.where(), 'object contains itself');
    }
    if (this.metered) this.charge(2);
    this.ancestors.add(branch.source);
    const length = branch.keys ? branch.keys.length : (branch.items as ArrayLike<unknown>).length;
    this.stack.push({ branch, length, index: 0, depth, emitted: 0 });
  }

  private charge(bytes: number): void {
    this.used += bytes;
    if (this.used > this.limits.maxSize) {
      throw new SerializationError('max_size', this.where(), `output exceeds max_size of ${this.limits.maxSize} bytes`);
    }
  }
}

/**
 * Rebuilds `root` through `classify` with an explicit stack, so input nesting never grows
 * the native call stack. Throws `SerializationError` on cycles (an object inside itself —
 * shared sub-objects are fine), on containers deeper than `maxDepth`, and as soon as the
 * running output size passes `maxSize`.
 */
export function walkTree(root: unknown, classify: Classifier, limits: WalkLimits): unknown {
  return new TreeWalk(classify, limits).run(root);
}
