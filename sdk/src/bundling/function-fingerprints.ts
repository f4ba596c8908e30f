/**
 * Per-function code fingerprints, so a redeploy (`ferry serve` on save) restarts only the
 * functions whose own code or options changed. One esbuild bundle holds the whole app; the
 * fingerprint of function f hashes that bundle with every OTHER function's handler source cut
 * out, plus f's options. Editing only g's handler body leaves f's fingerprint as it was; editing
 * shared top-level code, an import or the SDK changes every function's.
 *
 * Sound before clever: a handler is cut out only where nothing else can reach its code, that is
 * when its source (`fn.toString()`, a verbatim slice of the bundle the SDK loaded the app from)
 * occurs exactly once in the bundle, right after a `,` (an inline argument of `app.function(opts,
 * …)` / `app.cls(opts, …)`, not a named declaration other code could call), overlaps no other
 * handler, and no code in the app calls a handle's `.local` (which would run a sibling's handler
 * in this function's containers). Otherwise it stays in, and every function's fingerprint sees it.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { canonicalJson } from "@ferry/core";
import type { AppBundle } from "./bundle-app.ts";

/** Bumped when the way fingerprints are computed changes: every function then restarts once. */
export const FINGERPRINT_VERSION = "ferry-fingerprint-1";

/** What stands in for another function's handler. */
const PLACEHOLDER = "/*ferry:handler*/";

/** Code that runs a handle's handler in-process (`g.local(x)`, `g.localBatch(xs)`, `g["local"]`). */
const LOCAL_CALL = /\.\s*local(?:Batch)?\b|\[\s*["'`]local(?:Batch)?["'`]\s*\]/;

/** One deployable unit as the fingerprint sees it. */
export interface FingerprintUnit {
  readonly name: string;
  /** Its handler's source (a function's `fn.toString()`, a class's), or undefined when unknown. */
  readonly source: string | undefined;
  /** Its options as deployed (image id included). */
  readonly options: unknown;
}

interface Span {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** The calls that register a handler: `app.function(options, handler)`, `app.cls(options, class)`. */
const REGISTERING_CALL = /\.\s*(?:function|cls)\s*\(\s*$/;

/**
 * Whether `text` is an options object literal that does nothing but build a value: balanced
 * braces and brackets, plain strings, no call, template, regex or comment. Its value travels (and
 * is compared) in the manifest, so its text can leave other functions' fingerprints.
 */
const plainObjectLiteral = (text: string): boolean => {
  const t = text.trim();
  if (!t.startsWith("{")) return false;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === '"' || c === "'") {
      const close = t.indexOf(c, i + 1);
      if (close < 0 || t.slice(i + 1, close).includes("\\")) return false;
      i = close;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      if (--depth < 0) return false;
      if (depth === 0 && i !== t.length - 1) return false;
    } else if ("()`/".includes(c)) return false;
  }
  return depth === 0;
};

/**
 * Where a unit's code can be cut out of `bundle` (its handler, and its options literal before it
 * when that is plain), or undefined when it must stay.
 */
const cuttable = (bundle: string, source: string | undefined): { start: number; end: number } | undefined => {
  if (!source) return undefined;
  const start = bundle.indexOf(source);
  if (start < 0 || bundle.indexOf(source, start + 1) >= 0) return undefined;
  let comma = start - 1;
  while (comma >= 0 && /\s/.test(bundle[comma]!)) comma--;
  if (bundle[comma] !== ",") return undefined;
  const end = start + source.length;
  // The options literal between `.function(` and the comma, when nothing else can be in it.
  const open = bundle.lastIndexOf("(", comma);
  const options = bundle.slice(open + 1, comma);
  if (open >= 0 && REGISTERING_CALL.test(bundle.slice(Math.max(0, open - 16), open + 1)) && plainObjectLiteral(options)) return { start: open + 1, end };
  return { start, end };
};

/**
 * The fingerprint (sha256, hex) of each unit's code and options in `bundle` (the shipped bundle's
 * text). `userCode` is the app's own code without the SDK (the bundle the CLI loaded it from): where
 * it calls `.local`, no handler is cut out of any fingerprint.
 *
 * @example
 * ```ts
 * const prints = functionFingerprints(bundleText, [
 *   { name: "f", source: "async (x) => x + 1", options: {} },
 *   { name: "g", source: "async () => \"v1\"", options: {} },
 * ], localBundleText);
 * prints.get("f"); // unchanged when only g's body changes
 * ```
 */
export const functionFingerprints = (bundle: string, units: ReadonlyArray<FingerprintUnit>, userCode: string = bundle): Map<string, string> => {
  const spans: Span[] = [];
  if (!LOCAL_CALL.test(userCode)) {
    for (const u of units) {
      // The user's own code only: never a piece of the SDK (a wrapper the handle holds).
      const at = u.source && userCode.includes(u.source) ? cuttable(bundle, u.source) : undefined;
      if (at) spans.push({ name: u.name, ...at });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  // Nested or overlapping handlers: neither is cut.
  const overlapping = new Set<string>();
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.start < spans[i - 1]!.end) {
      overlapping.add(spans[i]!.name);
      overlapping.add(spans[i - 1]!.name);
    }
  }
  const cut = spans.filter((s) => !overlapping.has(s.name));
  const out = new Map<string, string>();
  for (const u of units) {
    const h = createHash("sha256").update(`${FINGERPRINT_VERSION}\0${canonicalJson(u.options ?? {})}\0`);
    let at = 0;
    for (const s of cut) {
      if (s.name === u.name) continue;
      h.update(bundle.slice(at, s.start)).update(PLACEHOLDER);
      at = s.end;
    }
    h.update(bundle.slice(at));
    out.set(u.name, h.digest("hex"));
  }
  return out;
};

/** The state key of a class handle (a module-private symbol of the SDK's class handle). */
const CLS_STATE = "ferry.cls.state";

/**
 * The source of a deployable unit's handler, as this process loaded it: a function's (a batched
 * function's list handler), or a class's. Undefined when it cannot be told (its code then stays in
 * every fingerprint).
 *
 * @example
 * ```ts
 * handlerSource(app.function({}, async (x: number) => x + 1)); // "async (x) => x + 1"
 * ```
 */
export const handlerSource = (handle: object): string | undefined => {
  const fn = handle as { readonly batchImpl?: unknown; readonly impl?: unknown };
  const direct = fn.batchImpl ?? fn.impl;
  if (typeof direct === "function") return Function.prototype.toString.call(direct);
  const state = Object.getOwnPropertySymbols(handle).find((s) => s.description === CLS_STATE);
  const userClass = state ? (handle as Record<symbol, { readonly userClass?: unknown } | undefined>)[state]?.userClass : undefined;
  return typeof userClass === "function" ? Function.prototype.toString.call(userClass) : undefined;
};

/**
 * The fingerprint of each of an app's deployable units in `bundle` (as `bundleApp` made it and the
 * CLI loaded it), keyed by name, from each unit's handle and deployed options.
 *
 * @example
 * ```ts
 * const prints = await appFingerprints(bundle, discovered.functions.map((f) => ({ name: f.name, handle: f.handle, options })));
 * ```
 */
export const appFingerprints = async (
  bundle: Pick<AppBundle, "code" | "localModuleUrl">, units: ReadonlyArray<{ readonly name: string; readonly handle: object; readonly options: unknown }>,
): Promise<Map<string, string>> => {
  const userCode = await readFile(fileURLToPath(bundle.localModuleUrl), "utf8");
  const shipped = new TextDecoder().decode(bundle.code);
  return functionFingerprints(shipped, units.map((u) => ({ name: u.name, source: handlerSource(u.handle), options: u.options })), userCode);
};
