import { Type } from '@nestjs/common';
import { TransformationType, TransformMetadata, TypeMetadata } from 'class-transformer';
import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
import { getMetadataStorage, ValidationArguments, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

import { opaquePropertiesOf } from './opaque.decorator';

// class-transformer keeps its metadata and default options in modules its index does not export
// (and ships their types apart from them): the very modules @nestjs/mapped-types loads.
const { defaultMetadataStorage: transformerStorage } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerStorage };
const { defaultOptions: transformerDefaults } = require('class-transformer/cjs/constants/default-options.constant') as { defaultOptions: object };

/** Takes a request value; gives the DTO instance the validation pipe would, or `undefined`: "run the pipe". */
export type CompiledValidator<T extends object = object> = (value: unknown) => T | undefined;

type Bag = Record<string, unknown>;
type Rule = (object: Bag, value: unknown) => boolean;
type Condition = (object: object, value: unknown) => unknown;

interface PropertyPlan {
  readonly name: string;
  /** `@IsOptional()` / `@ValidateIf()`: the rules apply only when all of these hold. */
  readonly conditions: readonly Condition[];
  /** `@IsDefined()` first, then every other constraint, each calling the constraint's own `validate`. */
  readonly rules: readonly Rule[];
  /** `@ValidateNested()`, always with `type` (`@Type()`). */
  readonly nested: boolean;
  readonly type: TypeMetadata | undefined;
  readonly transforms: readonly TransformMetadata[];
}

interface ClassPlan {
  readonly cls: new () => object;
  readonly props: readonly PropertyPlan[];
  readonly byName: ReadonlyMap<string, PropertyPlan>;
}

/** One top-level call: what class-transformer would hand to `@Type()` and `@Transform()` functions. */
interface CallContext {
  readonly body: Bag;
  readonly opaque: ReadonlySet<string> | undefined;
  shell?: Bag;
  options?: object;
}

const FAIL = Symbol('fall back');
const SUPPORTED_TYPES = new Set<string>([
  ValidationTypes.CUSTOM_VALIDATION,
  ValidationTypes.IS_DEFINED,
  ValidationTypes.CONDITIONAL_VALIDATION,
  ValidationTypes.NESTED_VALIDATION,
  ValidationTypes.WHITELIST,
]);
/** Keys that class-transformer skips, Nest's pipe strips, or that make a value look like a promise. */
const UNSAFE_NAMES = new Set(['__proto__', 'constructor', 'prototype', 'then']);

const plans = new WeakMap<object, ClassPlan | null>();
const compiled = new WeakMap<object, CompiledValidator | null>();

/**
 * The validation pipe's happy path for one DTO class, built once from class-validator's and
 * class-transformer's metadata (and cached per class).
 *
 * Contract: the returned function takes the raw request value and returns either the instance that
 * `plainToInstance` followed by a successful `validate` would give with the pipe's options
 * (`transform: true`, no groups, no `transformOptions`; any whitelist setting, since unknown keys
 * fall back) — same
 * prototype, same own properties, nested instances for `@ValidateNested()` + `@Type()`, `@Transform()`
 * applied, {@link Opaque} properties passed through untouched — or `undefined`, which means
 * "invalid, or not sure": the caller then runs the full pipe, whose errors are class-validator's.
 * It never returns a value the pipe would reject.
 *
 * Compiled: `@IsDefined()`, `@IsOptional()`/`@ValidateIf()` conditions, `@Allow()`, and every
 * synchronous constraint registered with `registerDecorator` (`@IsInt()`, `@Min()`, `@Matches()`,
 * custom ones...), each run through its own `validate(value, args)`; `@ValidateNested()` with
 * `@Type()` to a class that compiles; `@Transform()` on primitive values. At run time only plain
 * objects whose properties all have metadata, holding primitives (or nested plain objects) are taken.
 *
 * Falls back (returns `undefined` for the class): no validation metadata, groups, `always`, `each`,
 * `validateIf` options, async constraints, `@ValidatePromise()`, `@Expose()`/`@Exclude()`, `@Type()`
 * without `@ValidateNested()` (or the reverse), discriminators, Map types, `@Transform()` on nested or
 * opaque properties, properties named like prototype members. Per call (returns `undefined`): a value
 * that is not a plain (or null-prototype) object, `null`/`undefined` included; unknown keys (also those
 * the pipe would strip silently, like `constructor`); arrays or other objects where primitives or a
 * nested object go; properties the constructor sets without metadata; a constraint returning a
 * promise; anything that throws. Constraint instances are resolved once, at compile time.
 */
export function compileValidator<T extends object>(metatype: Type<T> | undefined): CompiledValidator<T> | undefined {
  if (typeof metatype !== 'function') return undefined;
  let validator = compiled.get(metatype);
  if (validator === undefined) {
    validator = compileTop(metatype) ?? null;
    compiled.set(metatype, validator);
  }
  return (validator ?? undefined) as CompiledValidator<T> | undefined;
}

function compileTop(cls: Function): CompiledValidator | undefined {
  const plan = planOf(cls);
  if (!plan) return undefined;
  const opaque = opaquePropertiesOf(cls);
  for (const key of opaque ?? []) {
    const prop = plan.byName.get(key);
    if (prop && (prop.type || prop.transforms.length)) return undefined;
  }
  return (value) => run(plan, opaque, value);
}

function run(plan: ClassPlan, opaque: ReadonlySet<string> | undefined, body: unknown): object | undefined {
  if (!isPlain(body)) return undefined;
  try {
    const instance = build(plan, body, { body, opaque }, opaque);
    if (instance === undefined || !isValid(plan, instance)) return undefined;
    for (const key of opaque ?? []) if (Object.hasOwn(body, key)) instance[key] = body[key];
    return instance;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Compilation

function planOf(cls: unknown): ClassPlan | undefined {
  if (typeof cls !== 'function') return undefined;
  let plan = plans.get(cls);
  if (plan === undefined) {
    plan = buildPlan(cls) ?? null;
    plans.set(cls, plan);
  }
  return plan ?? undefined;
}

function buildPlan(cls: Function): ClassPlan | undefined {
  if ((cls.prototype as { constructor?: unknown } | undefined)?.constructor !== cls || hasExposeOrExclude(cls)) return undefined;
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(cls, undefined as unknown as string, false, false, undefined);
  if (!metadatas.length || !metadatas.every(isSupported)) return undefined;
  const grouped = new Map<string, ValidationMetadata[]>();
  for (const m of metadatas) grouped.set(m.propertyName, [...(grouped.get(m.propertyName) ?? []), m]);
  const props: PropertyPlan[] = [];
  for (const [name, group] of grouped) {
    const prop = propertyPlan(cls, name, group);
    if (!prop) return undefined;
    props.push(prop);
  }
  return { cls: cls as new () => object, props, byName: new Map(props.map((p) => [p.name, p])) };
}

function hasExposeOrExclude(cls: Function): boolean {
  return (
    transformerStorage.getStrategy(cls) !== 'none' ||
    transformerStorage.getExposedMetadatas(cls).length > 0 ||
    transformerStorage.getExcludedMetadatas(cls).length > 0
  );
}

function isSupported(m: ValidationMetadata): boolean {
  return SUPPORTED_TYPES.has(m.type) && !m.each && m.always === undefined && !m.groups?.length && !m.validateIf;
}

function propertyPlan(cls: Function, name: string, metadatas: ValidationMetadata[]): PropertyPlan | undefined {
  if (UNSAFE_NAMES.has(name) || name in cls.prototype) return undefined;
  const type = transformerStorage.findTypeMetadata(cls, name);
  const transforms = transformerStorage
    .findTransformMetadatas(cls, name, TransformationType.PLAIN_TO_CLASS)
    .filter((t) => !t.options?.groups?.length);
  const nested = metadatas.some((m) => m.type === ValidationTypes.NESTED_VALIDATION);
  if (nested !== (type !== undefined)) return undefined;
  if (type && (type.options?.discriminator || type.reflectedType === Map || transforms.length)) return undefined;
  const conditions = metadatas.filter((m) => m.type === ValidationTypes.CONDITIONAL_VALIDATION).map((m) => m.constraints?.[0] as unknown);
  if (!conditions.every((c) => typeof c === 'function')) return undefined;
  const constrained = [
    ...metadatas.filter((m) => m.type === ValidationTypes.IS_DEFINED),
    ...metadatas.filter((m) => m.type === ValidationTypes.CUSTOM_VALIDATION),
  ].map(ruleOf);
  if (!constrained.every((r) => r !== undefined)) return undefined;
  return { name, conditions: conditions as Condition[], rules: constrained as Rule[], nested, type, transforms };
}

/** A constraint as class-validator runs it: each implementation's `validate(value, args)`, truthy and not a promise. */
function ruleOf(m: ValidationMetadata): Rule | undefined {
  const constraints = getMetadataStorage().getTargetValidatorConstraints(m.constraintCls);
  if (constraints.some((c) => c.async)) return undefined;
  const validators = constraints.map((c) => c.instance);
  return (object, value) => {
    for (const validator of validators) {
      const args: ValidationArguments = {
        targetName: (object.constructor ? object.constructor.name : undefined) as string,
        property: m.propertyName,
        object,
        value,
        constraints: m.constraints,
      };
      const valid: unknown = validator.validate(value, args);
      if (!valid || isPromise(valid)) return false;
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// plainToInstance

/** `new cls()` filled from `source` as class-transformer does, or `undefined` where it is not sure. */
function build(plan: ClassPlan, source: Bag, ctx: CallContext, opaque?: ReadonlySet<string>): Bag | undefined {
  const instance = new plan.cls() as Bag;
  for (const key of Object.keys(source)) {
    const prop = plan.byName.get(key);
    if (prop === undefined || typeof instance[key] === 'function') return undefined;
    const value = opaque?.has(key) ? standIn(source[key]) : convert(prop, source, instance, ctx);
    if (value === FAIL) return undefined;
    instance[key] = value; // class-transformer's default exposeUnsetFields sets undefined too
  }
  return instance;
}

function convert(prop: PropertyPlan, source: Bag, instance: Bag, ctx: CallContext): unknown {
  const raw = source[prop.name];
  if (prop.type) return nestedValue(prop.type, raw, source, instance, ctx);
  if (!isPrimitive(raw)) return FAIL;
  let value = raw;
  for (const t of prop.transforms) {
    value = t.transformFn({ value, key: prop.name, obj: objectSeen(source, ctx), type: TransformationType.PLAIN_TO_CLASS, options: (ctx.options ??= { ...transformerDefaults }) });
  }
  return value;
}

function nestedValue(type: TypeMetadata, raw: unknown, source: Bag, instance: Bag, ctx: CallContext): unknown {
  const resolved: unknown = type.typeFunction
    ? type.typeFunction({ newObject: instance, object: objectSeen(source, ctx), property: type.propertyName })
    : type.reflectedType;
  if (raw === null || raw === undefined) return raw;
  const plan = planOf(resolved);
  return (plan && isPlain(raw) && build(plan, raw, ctx)) || FAIL;
}

/** The object class-transformer reads `source` from: the pipe's shell (opaque values replaced) at the top. */
function objectSeen(source: Bag, ctx: CallContext): Bag {
  if (source !== ctx.body || !ctx.opaque) return source;
  if (!ctx.shell) {
    ctx.shell = { ...source };
    for (const key of ctx.opaque) if (Object.hasOwn(ctx.shell, key)) ctx.shell[key] = standIn(ctx.shell[key]);
  }
  return ctx.shell;
}

// ---------------------------------------------------------------------------------------------
// validate

/** class-validator's verdict on an instance built above (whitelist and forbidNonWhitelisted included). */
function isValid(plan: ClassPlan, object: Bag): boolean {
  for (const key of Object.keys(object)) if (!plan.byName.has(key)) return false;
  for (const prop of plan.props) if (!isPropertyValid(prop, object)) return false;
  return true;
}

function isPropertyValid(prop: PropertyPlan, object: Bag): boolean {
  const value = object[prop.name];
  let applies = true;
  for (const condition of prop.conditions) applies = Boolean(condition(object, value)) && applies;
  if (!applies) return true;
  for (const rule of prop.rules) if (!rule(object, value)) return false;
  return !prop.nested || value === undefined || isNestedValid(value);
}

function isNestedValid(value: unknown): boolean {
  if (!(value instanceof Object) || Array.isArray(value) || value instanceof Set || value instanceof Map) return false;
  const plan = planOf(value.constructor);
  return plan !== undefined && isValid(plan, value as Bag);
}

// ---------------------------------------------------------------------------------------------

function isPlain(value: unknown): value is Bag {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isPrimitive(value: unknown): boolean {
  return value === null || value === undefined || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isPromise(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** An empty value of the same kind, so that shape checks (object or array) still see the truth. */
export function standIn(value: unknown): unknown {
  if (Array.isArray(value)) return [];
  return typeof value === 'object' && value !== null ? {} : value;
}
