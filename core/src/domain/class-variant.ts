import { decodeValue, encodeValue, ValueCodecError } from "../codec/value-codec.ts";

/**
 * A parametrised class instance (`Model.with({ size: "small" })`): its own function row, created
 * by the edge on first use, whose options are its class's plus this. Its containers construct
 * the class with these parameters, so each distinct parameter set gets its own containers.
 */
export interface ClassVariant {
  /** The class's name in its app (the export name): what the container constructs. */
  readonly cls: string;
  /** The parameters, encoded with the value codec, object keys in canonical order. */
  readonly params: unknown;
  /** sha256 (hex) of the parameters' canonical JSON: one function row per distinct parameter set. */
  readonly hash: string;
}

/**
 * The variant a function row stands for, read from its stored options; `undefined` for a plain
 * function or a class itself.
 *
 * @example
 * ```ts
 * variantOf(fn.options)?.cls; // "Model"
 * ```
 */
export const variantOf = (options: unknown): ClassVariant | undefined => {
  const v = (options as { variant?: unknown } | null)?.variant as Partial<ClassVariant> | undefined;
  return v && typeof v.cls === "string" && typeof v.hash === "string" ? (v as ClassVariant) : undefined;
};

/** Whether stored options are a class's (`app.cls`), its variants included. */
export const isClassOptions = (options: unknown): boolean => Array.isArray((options as { methods?: unknown } | null)?.methods);

/**
 * JSON text of an encoded value with object keys sorted at every level; arrays (and so Map and
 * Set entries) keep their order. Two parameter objects that differ only in key order agree.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 */
export const canonicalJson = (encoded: unknown): string => JSON.stringify(sortKeys(encoded));

const sortKeys = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
  return out;
};

/**
 * Check `with()` parameters as they arrive encoded: a plain object of structured values. Returns
 * them re-encoded in canonical form with their canonical JSON, or a problem naming the path.
 *
 * @example
 * ```ts
 * canonicalClassParams({ size: "small" }, "body.params"); // { ok: true, params: { size: "small" }, json: '{"size":"small"}' }
 * ```
 */
export const canonicalClassParams = (encoded: unknown, root: string):
  { readonly ok: true; readonly params: unknown; readonly json: string } | { readonly ok: false; readonly field: string; readonly message: string } => {
  let decoded: unknown;
  try {
    decoded = decodeValue(encoded, root);
  } catch (e) {
    const path = e instanceof ValueCodecError ? e.path : root;
    return { ok: false, field: path, message: e instanceof Error ? e.message : String(e) };
  }
  const proto = decoded !== null && typeof decoded === "object" ? Object.getPrototypeOf(decoded) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    return { ok: false, field: root, message: `${root}: expected a plain object of parameters, like { size: "small" }` };
  }
  const params = sortKeys(encodeValue(decoded, root));
  return { ok: true, params, json: JSON.stringify(params) };
};

/**
 * The function-row name of a class's instance: the class name, `.with.` and the start of its
 * parameters' hash (`Model.with.3f2a…`). `FERRY_FUNCTION` in its containers and its log lines
 * carry this name.
 */
export const classVariantName = (cls: string, hash: string): string => `${cls}.with.${hash.slice(0, 16)}`;
