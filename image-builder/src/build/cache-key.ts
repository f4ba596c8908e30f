/**
 * Cache keys of image layers: pure functions, no I/O.
 *
 * A layer's key is sha256(parent key, canonical step definition, content hash of the step's inputs),
 * so an unchanged step under an unchanged parent hits the cache, and a change anywhere rebuilds that
 * step and, through the parent key, every step after it.
 */
import { createHash } from "node:crypto";

/** Bumped when the layer format changes, so old cache entries are never reused. */
export const LAYER_FORMAT_VERSION = "ferry-layer-v1";

/**
 * JSON with object keys sorted at every level: the same definition always gives the same text.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
};

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * Key of a base image layer from its definition (e.g. `{ kind: "ferry/node", node: "v24.1.0" }`).
 *
 * @example
 * ```ts
 * baseKey({ kind: "debian-slim", suite: "bookworm" });
 * ```
 */
export const baseKey = (definition: unknown): string => sha256(`${LAYER_FORMAT_VERSION}\0base\0${canonicalJson(definition)}`);

/**
 * Key of a step's layer. `inputsHash` is the content hash of what the step reads from the host
 * ("" when it reads nothing, e.g. `runCommands`, or a mounted `addLocalDir` whose content never
 * enters a layer).
 *
 * @example
 * ```ts
 * stepKey(parent, { kind: "runCommands", commands: ["echo hi"] }, "");
 * ```
 */
export const stepKey = (parentKey: string, step: unknown, inputsHash: string): string =>
  sha256(`${LAYER_FORMAT_VERSION}\0${parentKey}\0${canonicalJson(step)}\0${inputsHash}`);
