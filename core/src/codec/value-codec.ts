/*
 * Ferry value codec: the one format for function arguments and results on every hop
 * (SDK -> HTTP -> NATS -> runner and back). It has no runtime imports so that it runs
 * unchanged on Node, Bun, Deno and workerd and bundles into the runner with esbuild.
 *
 * Wire format: a JSON tree. Plain JSON values encode as themselves: strings, booleans,
 * null, finite numbers other than -0, arrays and plain objects. Everything else becomes
 * an object whose own key "$f" names the type:
 *
 *   {"$f":"u"}                                   undefined (array holes too)
 *   {"$f":"n","v":"NaN"|"Infinity"|"-Infinity"|"-0"}
 *   {"$f":"big","v":"-42"}                       BigInt, decimal digits
 *   {"$f":"date","v":1700000000000}              Date, epoch ms; v null = invalid Date
 *   {"$f":"map","v":[k1,v1,k2,v2]}               Map, flat key/value list
 *   {"$f":"set","v":[a,b]}                       Set
 *   {"$f":"obj","v":{...}}                       plain object that owns a "$f" key (escape)
 *   {"$f":"nobj","v":{...}}                      object with a null prototype
 *   {"$f":"Uint8Array","v":"<base64>"}           bytes; the tag is the constructor name:
 *                                                ArrayBuffer, DataView or any typed array
 *   {"$f":"err","name":"TypeError","message":"..","stack":"..","cause":<x>,
 *    "errors":[<x>],"props":{"code":<x>}}        Error; stack/cause/errors/props optional
 *
 * Keys inside the "v" of obj/nobj and inside "props" are literal (never tags); their
 * values are encoded. Binary payloads are the view's own bytes in platform byte order
 * (little-endian on every runtime Ferry targets).
 *
 * Semantics worth knowing:
 * - Objects shared inside one value are encoded once per reference, so they arrive as
 *   separate copies; cycles are refused.
 * - Array holes arrive as undefined; non-index array properties, symbol keys and
 *   non-enumerable properties are dropped (as with JSON and structuredClone).
 * - Untagged subtrees are not copied: encodeValue may return (parts of) its input and
 *   decodeValue (parts of) its input. Treat both sides as shared and immutable; go through
 *   encodeToJson/decodeFromJson for an independent copy.
 * - Errors keep name, message, stack, cause, AggregateError errors and own enumerable
 *   properties; they decode to the built-in constructor of that name, otherwise to Error.
 */

/** A JSON-compatible tree produced by {@link encodeValue}. @example const wire: Encoded = encodeValue([1, 2n]) */
export type Encoded = unknown;

/**
 * Raised when a value cannot be sent (unsupported type, cycle) or an encoded tree is
 * malformed. `path` locates the offending value, e.g. `args[1].user.callback`.
 *
 * @example
 * try { encodeValue({ f() {} }, "args[0]") } catch (e) {
 *   if (e instanceof ValueCodecError) console.log(e.path) // "args[0].f"
 * }
 */
export class ValueCodecError extends Error {
  override name = "ValueCodecError";
  /** Where the problem is, rooted at the caller's root path, e.g. `result.items[3]`. */
  readonly path: string;
  /** The message without the path prefix, e.g. `functions are not serializable`. */
  readonly reason: string;

  constructor(message: string, path: string, reason: string, options?: ErrorOptions) {
    super(message, options);
    this.path = path;
    this.reason = reason;
  }
}

const TAG = "$f";

// Frozen so that sharing them across encoded trees can never leak a mutation.
const UNDEF = Object.freeze({ [TAG]: "u" });
const NAN = Object.freeze({ [TAG]: "n", v: "NaN" });
const POS_INF = Object.freeze({ [TAG]: "n", v: "Infinity" });
const NEG_INF = Object.freeze({ [TAG]: "n", v: "-Infinity" });
const NEG_ZERO = Object.freeze({ [TAG]: "n", v: "-0" });

// "date" | "map" | "set" | "err" | "plain", or a binary tag (ArrayBuffer, DataView, typed array name).
type Kind = string;

interface TypedArrayCtor {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
  readonly BYTES_PER_ELEMENT: number;
  readonly prototype: object;
}

type ErrorCtor = new (message?: string, options?: ErrorOptions) => Error;

const globals = globalThis as unknown as Record<string, unknown>;

// Float16Array is listed even where the runtime lacks it, so a peer that has it gets a
// precise "unsupported here" error instead of "unknown tag".
const TYPED_ARRAY_NAMES = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
  "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
];
const TYPED_ARRAYS = new Map<string, TypedArrayCtor>();
for (const name of TYPED_ARRAY_NAMES) {
  const ctor = globals[name];
  if (typeof ctor === "function") TYPED_ARRAYS.set(name, ctor as TypedArrayCtor);
}

const BUILTIN_ERRORS = new Map<string, ErrorCtor>();
for (const name of ["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "AggregateError"]) {
  const ctor = globals[name];
  if (typeof ctor === "function") BUILTIN_ERRORS.set(name, ctor as ErrorCtor);
}

// Same-realm dispatch by prototype identity: one Map lookup for every supported built-in.
const PROTO_KINDS = new Map<object, Kind>([
  [Date.prototype, "date"],
  [Map.prototype, "map"],
  [Set.prototype, "set"],
  [ArrayBuffer.prototype, "ArrayBuffer"],
  [DataView.prototype, "DataView"],
]);
for (const [name, ctor] of TYPED_ARRAYS) PROTO_KINDS.set(ctor.prototype, name);
for (const ctor of BUILTIN_ERRORS.values()) PROTO_KINDS.set(ctor.prototype, "err");

// Brand checks read internal slots, so they also recognise values from other realms
// (vm contexts) where prototype identity fails.
const typedArrayTagOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;
const dateGetTime = Date.prototype.getTime;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size")!.get!;
const bufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
const errorIsError = (Error as { isError?: (value: unknown) => boolean }).isError;
const objectToString = Object.prototype.toString;
const BRAND_CTOR_NAMES: Record<string, string> = { date: "Date", map: "Map", set: "Set" };
const BRAND_PROBES: readonly [Kind, (this: unknown) => unknown][] = [
  ["date", dateGetTime],
  ["map", mapSize],
  ["set", setSize],
  ["ArrayBuffer", bufferByteLength],
];

// ---------------------------------------------------------------------------------------
// Paths. Segments are kept raw on a stack and only formatted when something fails, so the
// happy path never builds strings.

interface EntrySeg {
  kind: "key" | "value" | "item";
  index: number;
  key: unknown;
}
type Seg = string | number | EntrySeg;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keyLabel(key: unknown): string | undefined {
  switch (typeof key) {
    case "string":
      return JSON.stringify(key);
    case "number":
      return Object.is(key, -0) ? "-0" : String(key);
    case "bigint":
      return `${key}n`;
    case "boolean":
    case "undefined":
      return String(key);
    default:
      return key === null ? "null" : undefined;
  }
}

function formatPath(root: string, segs: readonly Seg[], length = segs.length): string {
  let path = root;
  for (let i = 0; i < length; i++) {
    const seg = segs[i];
    if (typeof seg === "number") path += `[${seg}]`;
    else if (typeof seg === "string") path += IDENTIFIER.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
    else if (seg.kind === "key") path += `.keys()[${seg.index}]`;
    else if (seg.kind === "item") path += `.values()[${seg.index}]`;
    else {
      const label = keyLabel(seg.key);
      path += label === undefined ? `.values()[${seg.index}]` : `.get(${label})`;
    }
  }
  return path;
}

interface State {
  readonly root: string;
  readonly segs: Seg[];
  // Containers currently being encoded; open[i] sits at path segs[0..i), which lets a
  // cycle report name the ancestor it points back to.
  readonly open: object[];
}

function newState(root: string): State {
  return { root, segs: [], open: [] };
}

function refuse(st: State, reason: string, cause?: unknown): ValueCodecError {
  const path = formatPath(st.root, st.segs);
  return new ValueCodecError(`Cannot send value at ${path}: ${reason}`, path, reason, cause === undefined ? undefined : { cause });
}

function malformed(st: State, reason: string, cause?: unknown): ValueCodecError {
  const path = formatPath(st.root, st.segs);
  return new ValueCodecError(`Cannot decode value at ${path}: ${reason}`, path, reason, cause === undefined ? undefined : { cause });
}

function isStackOverflow(err: unknown): boolean {
  // V8/JSC throw RangeError("Maximum call stack size exceeded"), SpiderMonkey InternalError("too much recursion").
  return err instanceof Error && /call stack|too much recursion/i.test(err.message);
}

function describeThrown(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return "unknown error";
  }
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // Plain assignment to "__proto__" would change the prototype instead of adding data.
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

function isErrorLike(value: object): boolean {
  if (value instanceof Error) return true;
  return errorIsError !== undefined ? errorIsError(value) : objectToString.call(value) === "[object Error]";
}

// A prototype that is Object.prototype of another realm.
function isForeignPlainProto(proto: object): boolean {
  try {
    const ctor = Object.hasOwn(proto, "constructor") ? (proto as { constructor?: unknown }).constructor : undefined;
    return Object.getPrototypeOf(proto) === null && typeof ctor === "function" && ctor.name === "Object" && ctor.prototype === proto;
  } catch {
    return false;
  }
}

function brandOf(value: object): Kind | undefined {
  if (ArrayBuffer.isView(value)) return typedArrayTagOf.call(value) ?? "DataView";
  for (const [kind, probe] of BRAND_PROBES) {
    try {
      probe.call(value);
      return kind;
    } catch {
      // not this brand
    }
  }
  return undefined;
}

function ownConstructorName(proto: object): string | undefined {
  try {
    if (!Object.hasOwn(proto, "constructor")) return undefined;
    const ctor = (proto as { constructor?: unknown }).constructor;
    return typeof ctor === "function" && typeof ctor.name === "string" && ctor.name !== "" ? ctor.name : undefined;
  } catch {
    return undefined;
  }
}

// Slow path for objects whose prototype is not a same-realm supported built-in: Error
// subclasses, built-ins from other realms, and everything we refuse.
function classify(value: object, proto: object, st: State): Kind {
  if (isErrorLike(value)) return "err";
  const ctorName = ownConstructorName(proto);
  const brand = brandOf(value);
  if (brand !== undefined && ctorName === (BRAND_CTOR_NAMES[brand] ?? brand)) return brand;
  if (isForeignPlainProto(proto)) return "plain";
  if (ctorName === undefined) throw refuse(st, "object with a custom prototype is not serializable");
  const hint = ctorName === "Promise" ? " (await it before sending)" : "";
  throw refuse(st, `class instance of ${ctorName} is not serializable${hint}`);
}

// ---------------------------------------------------------------------------------------
// Encoding

function enc(value: unknown, st: State): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // x - x is 0 exactly for finite numbers.
      if (value - value === 0) return value === 0 && 1 / value < 0 ? NEG_ZERO : value;
      return value !== value ? NAN : value > 0 ? POS_INF : NEG_INF;
    case "object":
      return value === null ? null : encObject(value, st);
    case "undefined":
      return UNDEF;
    case "bigint":
      return { [TAG]: "big", v: value.toString() };
    case "function":
      throw refuse(st, "functions are not serializable");
    default:
      throw refuse(st, "symbols are not serializable");
  }
}

function encObject(value: object, st: State): unknown {
  const open = st.open;
  const ancestor = open.indexOf(value);
  if (ancestor !== -1) throw refuse(st, `circular reference to ${formatPath(st.root, st.segs, ancestor)}`);
  if (Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value) as object;
    // Array.prototype is itself an array, in every realm; subclasses' prototypes are not.
    if (proto !== Array.prototype && !Array.isArray(proto)) classify(value, proto, st);
    open.push(value);
    const out = encArray(value, st);
    open.pop();
    return out;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype) {
    open.push(value);
    const out = encPlain(value as Record<string, unknown>, st);
    open.pop();
    return out;
  }
  if (proto === null) {
    open.push(value);
    const out = { [TAG]: "nobj", v: encFields(value as Record<string, unknown>, st) };
    open.pop();
    return out;
  }
  const kind = PROTO_KINDS.get(proto) ?? classify(value, proto, st);
  switch (kind) {
    case "date": {
      const time = dateGetTime.call(value);
      return { [TAG]: "date", v: time === time ? time : null };
    }
    case "ArrayBuffer":
      return { [TAG]: kind, v: bytesToBase64(new Uint8Array(value as ArrayBuffer)) };
    case "map":
    case "set":
    case "err":
    case "plain": {
      open.push(value);
      const out =
        kind === "map" ? encMap(value as Map<unknown, unknown>, st)
        : kind === "set" ? encSet(value as Set<unknown>, st)
        : kind === "err" ? encError(value as Error, st)
        : encPlain(value as Record<string, unknown>, st);
      open.pop();
      return out;
    }
    default: {
      const view = value as ArrayBufferView;
      return { [TAG]: kind, v: bytesToBase64(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)) };
    }
  }
}

// Copy-on-write: the input array is returned as is until some element encodes differently.
function encArray(arr: readonly unknown[], st: State): unknown[] {
  const segs = st.segs;
  const n = arr.length;
  let out: unknown[] | undefined;
  for (let i = 0; i < n; i++) {
    segs.push(i);
    const item = arr[i];
    const encoded = enc(item, st);
    segs.pop();
    if (out === undefined) {
      if (encoded === item) continue;
      out = arr.slice(0, i);
    }
    out.push(encoded);
  }
  return out ?? (arr as unknown[]);
}

function encFields(obj: Record<string, unknown>, st: State): Record<string, unknown> {
  const segs = st.segs;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    segs.push(key);
    const item = obj[key];
    const encoded = enc(item, st);
    segs.pop();
    if (out === undefined) {
      if (encoded === item) continue;
      out = {};
      for (let j = 0; j < i; j++) setOwn(out, keys[j], obj[keys[j]]);
    }
    setOwn(out, key, encoded);
  }
  return out ?? obj;
}

function encPlain(obj: Record<string, unknown>, st: State): unknown {
  const fields = encFields(obj, st);
  return Object.hasOwn(obj, TAG) ? { [TAG]: "obj", v: fields } : fields;
}

function encMap(map: Map<unknown, unknown>, st: State): unknown {
  const out: unknown[] = [];
  // One mutable segment per container: paths are only read synchronously on failure.
  const seg: EntrySeg = { kind: "key", index: 0, key: undefined };
  st.segs.push(seg);
  for (const [key, item] of map) {
    seg.kind = "key";
    out.push(enc(key, st));
    seg.kind = "value";
    seg.key = key;
    out.push(enc(item, st));
    seg.index++;
    seg.key = undefined;
  }
  st.segs.pop();
  return { [TAG]: "map", v: out };
}

function encSet(set: Set<unknown>, st: State): unknown {
  const out: unknown[] = [];
  const seg: EntrySeg = { kind: "item", index: 0, key: undefined };
  st.segs.push(seg);
  for (const item of set) {
    out.push(enc(item, st));
    seg.index++;
  }
  st.segs.pop();
  return { [TAG]: "set", v: out };
}

function asString(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : value === undefined ? fallback : String(value);
}

function encError(err: Error, st: State): unknown {
  const segs = st.segs;
  const rec: Record<string, unknown> = {
    [TAG]: "err",
    name: asString(err.name, "Error"),
    message: asString(err.message, ""),
  };
  const stack = err.stack;
  if (typeof stack === "string") rec.stack = stack;
  if (Object.hasOwn(err, "cause")) {
    segs.push("cause");
    rec.cause = enc(err.cause, st);
    segs.pop();
  }
  const errors = Object.hasOwn(err, "errors") ? (err as { errors?: unknown }).errors : undefined;
  if (Array.isArray(errors)) {
    segs.push("errors");
    rec.errors = enc(errors, st);
    segs.pop();
  }
  const keys = Object.keys(err);
  if (keys.length > 0) {
    const props: Record<string, unknown> = {};
    for (const key of keys) {
      segs.push(key);
      setOwn(props, key, enc((err as unknown as Record<string, unknown>)[key], st));
      segs.pop();
    }
    rec.props = props;
  }
  return rec;
}

/**
 * Encodes a structured value into a JSON-compatible tree, refusing unsupported values
 * (functions, symbols, class instances, cycles...) with a {@link ValueCodecError} that
 * names their path under `rootPath`.
 *
 * @example
 * encodeValue({ at: new Date(0), n: 1n })
 * // { at: { $f: "date", v: 0 }, n: { $f: "big", v: "1" } }
 * encodeValue([() => 1], "args") // throws: Cannot send value at args[0]: functions are not serializable
 */
export function encodeValue(value: unknown, rootPath = "value"): Encoded {
  const st = newState(rootPath);
  try {
    return enc(value, st);
  } catch (err) {
    if (err instanceof ValueCodecError) throw err;
    if (isStackOverflow(err)) throw refuse(st, "value is nested too deeply", err);
    // Getters and proxies run user code; report where it blew up.
    throw refuse(st, `reading the value threw ${describeThrown(err)}`, err);
  }
}

/**
 * Encodes a value straight to JSON text (see {@link encodeValue}).
 *
 * @example
 * encodeToJson(new Map([["a", 1]])) // '{"$f":"map","v":["a",1]}'
 */
export function encodeToJson(value: unknown, rootPath?: string): string {
  return JSON.stringify(encodeValue(value, rootPath));
}

// ---------------------------------------------------------------------------------------
// Decoding

const BIGINT_DIGITS = /^-?\d+$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null || isForeignPlainProto(proto);
}

function dec(value: unknown, st: State): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (value - value === 0) return value;
      throw malformed(st, `non-finite number ${value} must be tagged`);
    case "object":
      if (value === null) return null;
      if (Array.isArray(value)) return decArray(value, st);
      if (!isRecord(value)) throw malformed(st, `unexpected ${ownConstructorName(Object.getPrototypeOf(value) as object) ?? "non-plain"} object`);
      return Object.hasOwn(value, TAG) ? decTagged(value, st) : decFields(value, st);
    default:
      throw malformed(st, `unexpected ${typeof value}`);
  }
}

function decArray(arr: readonly unknown[], st: State): unknown[] {
  const segs = st.segs;
  const n = arr.length;
  let out: unknown[] | undefined;
  for (let i = 0; i < n; i++) {
    segs.push(i);
    const item = arr[i];
    const decoded = dec(item, st);
    segs.pop();
    if (out === undefined) {
      if (decoded === item) continue;
      out = arr.slice(0, i);
    }
    out.push(decoded);
  }
  return out ?? (arr as unknown[]);
}

function decFields(obj: Record<string, unknown>, st: State): Record<string, unknown> {
  const segs = st.segs;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    segs.push(key);
    const item = obj[key];
    const decoded = dec(item, st);
    segs.pop();
    if (out === undefined) {
      if (decoded === item) continue;
      out = {};
      for (let j = 0; j < i; j++) setOwn(out, keys[j], obj[keys[j]]);
    }
    setOwn(out, key, decoded);
  }
  return out ?? obj;
}

function requireArray(value: unknown, what: string, st: State): unknown[] {
  if (!Array.isArray(value)) throw malformed(st, `${what} must be an array`);
  return value;
}

function requireRecord(value: unknown, what: string, st: State): Record<string, unknown> {
  if (!isRecord(value)) throw malformed(st, `${what} must be a plain object`);
  return value;
}

function decTagged(rec: Record<string, unknown>, st: State): unknown {
  const tag = rec[TAG];
  const v = rec.v;
  switch (tag) {
    case "u":
      return undefined;
    case "n":
      switch (v) {
        case "NaN":
          return NaN;
        case "Infinity":
          return Infinity;
        case "-Infinity":
          return -Infinity;
        case "-0":
          return -0;
        default:
          throw malformed(st, `invalid special number ${JSON.stringify(v)}`);
      }
    case "big":
      if (typeof v !== "string" || !BIGINT_DIGITS.test(v)) throw malformed(st, "BigInt payload must be a decimal string");
      return BigInt(v);
    case "date":
      if (v === null) return new Date(NaN);
      if (typeof v !== "number" || v - v !== 0) throw malformed(st, "Date payload must be a finite number or null");
      return new Date(v);
    case "map": {
      const items = requireArray(v, "Map payload", st);
      if (items.length % 2 !== 0) throw malformed(st, "Map payload must hold key/value pairs");
      const map = new Map<unknown, unknown>();
      const seg: EntrySeg = { kind: "key", index: 0, key: undefined };
      st.segs.push(seg);
      for (let i = 0; i < items.length; i += 2) {
        seg.kind = "key";
        seg.index = i / 2;
        const key = dec(items[i], st);
        seg.kind = "value";
        seg.key = key;
        map.set(key, dec(items[i + 1], st));
      }
      st.segs.pop();
      return map;
    }
    case "set": {
      const items = requireArray(v, "Set payload", st);
      const set = new Set<unknown>();
      const seg: EntrySeg = { kind: "item", index: 0, key: undefined };
      st.segs.push(seg);
      for (let i = 0; i < items.length; i++) {
        seg.index = i;
        set.add(dec(items[i], st));
      }
      st.segs.pop();
      return set;
    }
    case "obj":
      return decFields(requireRecord(v, "escaped object payload", st), st);
    case "nobj": {
      const fields = requireRecord(v, "null-prototype object payload", st);
      const out = Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(fields)) {
        st.segs.push(key);
        out[key] = dec(fields[key], st);
        st.segs.pop();
      }
      return out;
    }
    case "err":
      return decError(rec, st);
    default:
      return decBinary(tag, v, st);
  }
}

function decBinary(tag: unknown, v: unknown, st: State): unknown {
  const known = typeof tag === "string" && (tag === "ArrayBuffer" || tag === "DataView" || TYPED_ARRAY_NAMES.includes(tag));
  if (!known) throw malformed(st, `unknown tag ${JSON.stringify(tag)}`);
  if (typeof v !== "string") throw malformed(st, `${tag} payload must be a base64 string`);
  const bytes = base64ToBytes(v);
  if (bytes === undefined) throw malformed(st, `${tag} payload is not valid base64`);
  if (tag === "ArrayBuffer") return bytes.buffer;
  if (tag === "DataView") return new DataView(bytes.buffer);
  const ctor = TYPED_ARRAYS.get(tag);
  if (ctor === undefined) throw malformed(st, `${tag} is not supported by this runtime`);
  if (bytes.length % ctor.BYTES_PER_ELEMENT !== 0) throw malformed(st, `${tag} payload length ${bytes.length} is not a multiple of ${ctor.BYTES_PER_ELEMENT}`);
  return new ctor(bytes.buffer, 0, bytes.length / ctor.BYTES_PER_ELEMENT);
}

function decError(rec: Record<string, unknown>, st: State): Error {
  const segs = st.segs;
  const { name, message, stack } = rec;
  if (typeof name !== "string") throw malformed(st, "error name must be a string");
  if (typeof message !== "string") throw malformed(st, "error message must be a string");
  if (stack !== undefined && typeof stack !== "string") throw malformed(st, "error stack must be a string");
  let options: ErrorOptions | undefined;
  if (Object.hasOwn(rec, "cause")) {
    segs.push("cause");
    options = { cause: dec(rec.cause, st) };
    segs.pop();
  }
  let errors: unknown[] | undefined;
  if (rec.errors !== undefined) {
    segs.push("errors");
    errors = decArray(requireArray(rec.errors, "error errors", st), st);
    segs.pop();
  }
  const ctor = BUILTIN_ERRORS.get(name) ?? Error;
  let err: Error;
  if (name === "AggregateError" && ctor !== Error) {
    err = new (ctor as unknown as typeof AggregateError)(errors ?? [], message, options);
  } else {
    err = new ctor(message, options);
    if (errors !== undefined) defineHidden(err, "errors", errors);
  }
  if (err.name !== name) defineHidden(err, "name", name);
  if (stack === undefined) delete err.stack;
  else defineHidden(err, "stack", stack);
  if (rec.props !== undefined) {
    const props = requireRecord(rec.props, "error props", st);
    for (const key of Object.keys(props)) {
      segs.push(key);
      Object.defineProperty(err, key, { value: dec(props[key], st), writable: true, enumerable: true, configurable: true });
      segs.pop();
    }
  }
  return err;
}

/**
 * Decodes a tree produced by {@link encodeValue}. Throws {@link ValueCodecError} naming the
 * path of the first malformed node.
 *
 * @example
 * decodeValue({ $f: "set", v: [1, { $f: "big", v: "2" }] }) // Set { 1, 2n }
 * decodeValue({ $f: "nope" }) // throws: Cannot decode value at value: unknown tag "nope"
 */
export function decodeValue(encoded: Encoded, rootPath = "value"): unknown {
  const st = newState(rootPath);
  try {
    return dec(encoded, st);
  } catch (err) {
    if (err instanceof ValueCodecError) throw err;
    if (isStackOverflow(err)) throw malformed(st, "value is nested too deeply (or cyclic)", err);
    throw malformed(st, `reading the value threw ${describeThrown(err)}`, err);
  }
}

/**
 * Parses JSON text and decodes it (see {@link decodeValue}).
 *
 * @example
 * decodeFromJson('{"$f":"n","v":"NaN"}') // NaN
 */
export function decodeFromJson(json: string): unknown {
  let tree: unknown;
  try {
    tree = JSON.parse(json);
  } catch (err) {
    const reason = `invalid JSON: ${describeThrown(err)}`;
    throw new ValueCodecError(`Cannot decode value at value: ${reason}`, "value", reason, { cause: err });
  }
  return decodeValue(tree);
}

// ---------------------------------------------------------------------------------------
// Thrown values

const MAX_SALVAGE_DEPTH = 16;

function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

function plainErrorRecord(message: string): Record<string, unknown> {
  return { [TAG]: "err", name: "Error", message };
}

function failureText(failure: unknown): string {
  return failure instanceof ValueCodecError ? failure.message : describeThrown(failure);
}

// Encodes the parts of an error that can be encoded; used once the exact encoding failed.
function salvageError(err: object, seen: Set<object>, depth: number): Record<string, unknown> {
  seen.add(err);
  const source = err as Record<string, unknown>;
  const rec: Record<string, unknown> = {
    [TAG]: "err",
    name: safely(() => asString(source.name, "Error"), "Error"),
    message: safely(() => asString(source.message, ""), ""),
  };
  const stack = safely(() => source.stack, undefined);
  if (typeof stack === "string") rec.stack = stack;
  if (safely(() => Object.hasOwn(err, "cause"), false)) {
    rec.cause = salvageNested(safely(() => source.cause, undefined), "error.cause", seen, depth);
  }
  const errors = safely(() => (Object.hasOwn(err, "errors") ? source.errors : undefined), undefined);
  if (Array.isArray(errors)) {
    rec.errors = errors.map((item, i) => salvageNested(item, `error.errors[${i}]`, seen, depth));
  }
  const props: Record<string, unknown> = {};
  let hasProps = false;
  for (const key of safely(() => Object.keys(err), [] as string[])) {
    // An exotic extra property is not worth losing the error over: drop just that one.
    try {
      setOwn(props, key, encodeValue(source[key], `error.${key}`));
      hasProps = true;
    } catch {
      // dropped
    }
  }
  if (hasProps) rec.props = props;
  return rec;
}

function salvageNested(value: unknown, path: string, seen: Set<object>, depth: number): Encoded {
  try {
    return encodeValue(value, path);
  } catch (failure) {
    const isError = typeof value === "object" && value !== null && safely(() => isErrorLike(value), false);
    if (isError && !seen.has(value) && depth < MAX_SALVAGE_DEPTH) return salvageError(value, seen, depth + 1);
    return plainErrorRecord(`Unserializable value: ${failureText(failure)}`);
  }
}

/**
 * Encodes whatever user code threw, for the error channel. Never throws: serializable
 * values (including non-Error throws like strings) encode exactly; an Error with
 * unserializable parts keeps its name, message and stack and loses only those parts; any
 * other unserializable throw becomes an Error describing why.
 *
 * @example
 * serializeError(new TypeError("bad"))           // { $f: "err", name: "TypeError", message: "bad", stack: "..." }
 * decodeValue(serializeError({ retry() {} }))    // Error: Thrown value is not serializable: Cannot send value at error.retry: ...
 */
export function serializeError(err: unknown): Encoded {
  try {
    return encodeValue(err, "error");
  } catch (failure) {
    try {
      if (typeof err === "object" && err !== null && isErrorLike(err)) return salvageError(err, new Set(), 0);
      return plainErrorRecord(`Thrown value is not serializable: ${failureText(failure)}`);
    } catch {
      return plainErrorRecord("Thrown value is not serializable");
    }
  }
}

// ---------------------------------------------------------------------------------------
// Base64 (standard alphabet, padded). Hand-rolled because Buffer is Node-only and
// btoa/atob need a binary-string detour that is ~2x slower for large payloads.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENCODE_TABLE = new Uint8Array(64);
const DECODE_TABLE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  ENCODE_TABLE[i] = ALPHABET.charCodeAt(i);
  DECODE_TABLE[ALPHABET.charCodeAt(i)] = i;
}
const PAD = 61; // "="

const nativeToBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64;
const asciiDecoder = typeof TextDecoder === "function" ? new TextDecoder() : undefined;

function asciiToString(ascii: Uint8Array): string {
  // TextDecoder wins on large buffers, fromCharCode on small ones (no call overhead).
  if (asciiDecoder !== undefined && ascii.length > 1024) return asciiDecoder.decode(ascii);
  let out = "";
  for (let i = 0; i < ascii.length; i += 0x2000) {
    out += String.fromCharCode.apply(null, ascii.subarray(i, i + 0x2000) as unknown as number[]);
  }
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  if (nativeToBase64 !== undefined) return nativeToBase64.call(bytes);
  const n = bytes.length;
  const rest = n % 3;
  const full = n - rest;
  const out = new Uint8Array(((n + 2) / 3 | 0) * 4);
  const table = ENCODE_TABLE;
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const t = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = table[t >>> 18];
    out[o++] = table[(t >>> 12) & 63];
    out[o++] = table[(t >>> 6) & 63];
    out[o++] = table[t & 63];
  }
  if (rest === 1) {
    const t = bytes[full] << 16;
    out[o++] = table[t >>> 18];
    out[o++] = table[(t >>> 12) & 63];
    out[o++] = PAD;
    out[o++] = PAD;
  } else if (rest === 2) {
    const t = (bytes[full] << 16) | (bytes[full + 1] << 8);
    out[o++] = table[t >>> 18];
    out[o++] = table[(t >>> 12) & 63];
    out[o++] = table[(t >>> 6) & 63];
    out[o++] = PAD;
  }
  return asciiToString(out);
}

// Strict: rejects wrong length, foreign characters and misplaced padding.
function base64ToBytes(s: string): Uint8Array<ArrayBuffer> | undefined {
  const n = s.length;
  if (n % 4 !== 0) return undefined;
  if (n === 0) return new Uint8Array(0);
  const pad = s.charCodeAt(n - 1) === PAD ? (s.charCodeAt(n - 2) === PAD ? 2 : 1) : 0;
  const out = new Uint8Array((n / 4) * 3 - pad);
  const table = DECODE_TABLE;
  const full = pad === 0 ? n : n - 4;
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const c1 = s.charCodeAt(i), c2 = s.charCodeAt(i + 1), c3 = s.charCodeAt(i + 2), c4 = s.charCodeAt(i + 3);
    if ((c1 | c2 | c3 | c4) > 127) return undefined;
    const a = table[c1], b = table[c2], c = table[c3], d = table[c4];
    if ((a | b | c | d) < 0) return undefined;
    const t = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = t >>> 16;
    out[o++] = (t >>> 8) & 255;
    out[o++] = t & 255;
  }
  if (pad > 0) {
    const c1 = s.charCodeAt(full), c2 = s.charCodeAt(full + 1), c3 = s.charCodeAt(full + 2);
    if ((c1 | c2 | c3) > 127) return undefined;
    const a = table[c1], b = table[c2], c = pad === 1 ? table[c3] : 0;
    if ((a | b | c) < 0) return undefined;
    const t = (a << 18) | (b << 12) | (c << 6);
    out[o++] = t >>> 16;
    if (pad === 1) out[o++] = (t >>> 8) & 255;
  }
  return out;
}
