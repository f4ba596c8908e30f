import { closestNames } from "./closest-names.ts";
import { GPU_TYPES, type GpuTypeInfo } from "./gpu-types.ts";
import type { OptionCheck } from "./option-check.ts";

/** The GPU type that accepts any GPU: `"any"` or `"any:4"`. */
export const ANY_GPU = "any";

/** `TYPE` or `TYPE:COUNT`, count a positive integer. */
const GPU_SPEC = /^([A-Za-z0-9][A-Za-z0-9-]*)(?::([1-9][0-9]*))?$/;

/** One entry of a function's `gpu` option, split into type and count. */
export interface ParsedGpuRequest {
  /** A canonical GPU type name (`"H100"`), `"any"`, or the name as written when it is unknown. */
  readonly type: string;
  readonly count: number;
}

/** A `gpu` entry that is not `TYPE` or `TYPE:COUNT`. */
export class InvalidGpuRequestError extends Error {
  override readonly name = "InvalidGpuRequestError";
  readonly spec: string;
  constructor(spec: string) {
    super(`gpu "${spec}" is malformed: expected a GPU type with an optional count, like "H100", "A100-80GB:2" or "any:4"`);
    this.spec = spec;
  }
}

const canonicalType = (type: string, types: ReadonlyArray<GpuTypeInfo>): string => {
  if (type.toLowerCase() === ANY_GPU) return ANY_GPU;
  const lower = type.toLowerCase();
  return types.find((t) => t.name.toLowerCase() === lower)?.name ?? type;
};

/**
 * Split a `gpu` entry into type and count (1 when left out). Known types are matched ignoring
 * case and returned as the catalogs spell them; unknown ones come back as written (see
 * {@link validateGpuRequests} for the check). Throws {@link InvalidGpuRequestError} when the
 * entry is not `TYPE` or `TYPE:COUNT`.
 *
 * @example
 * ```ts
 * parseGpuRequest("h100");        // { type: "H100", count: 1 }
 * parseGpuRequest("A100-80GB:2"); // { type: "A100-80GB", count: 2 }
 * parseGpuRequest("ANY:4");       // { type: "any", count: 4 }
 * ```
 */
export const parseGpuRequest = (spec: string, types: ReadonlyArray<GpuTypeInfo> = GPU_TYPES): ParsedGpuRequest => {
  const match = GPU_SPEC.exec(spec.trim());
  if (!match) throw new InvalidGpuRequestError(spec);
  return { type: canonicalType(match[1], types), count: match[2] === undefined ? 1 : Number(match[2]) };
};

/**
 * The canonical spelling of a parsed request: `"H100"` for one GPU, `"H100:2"` for more.
 *
 * @example
 * ```ts
 * formatGpuRequest({ type: "H100", count: 1 }); // "H100"
 * ```
 */
export const formatGpuRequest = (request: ParsedGpuRequest): string =>
  request.count === 1 ? request.type : `${request.type}:${request.count}`;

const problemWith = (spec: string, types: ReadonlyArray<GpuTypeInfo>): string | ParsedGpuRequest => {
  let request: ParsedGpuRequest;
  try {
    request = parseGpuRequest(spec, types);
  } catch (error) {
    return error instanceof InvalidGpuRequestError ? error.message : String(error);
  }
  if (request.type === ANY_GPU) {
    const largest = Math.max(0, ...types.map((t) => t.maxPerNode));
    return request.count <= largest ? request : `gpu "${spec}": no cloud offers a node with more than ${largest} GPUs`;
  }
  const known = types.find((t) => t.name === request.type);
  if (!known) {
    const names = types.map((t) => t.name);
    return `gpu "${spec}": unknown GPU type "${request.type}"; closest known types: ${closestNames(request.type, names).join(", ")}`;
  }
  if (request.count > known.maxPerNode) {
    return `gpu "${spec}": at most ${known.maxPerNode} ${known.name} fit on one node in any cloud catalog (offered by ${known.clouds.join(", ")})`;
  }
  return request;
};

/**
 * Check a function's `gpu` option (preference order) against the GPU catalogs: every type must
 * be known (case ignored) and its count must fit on the largest node some cloud offers for it;
 * `any:N` needs some type offered N to a node. On success, the list in canonical spelling with
 * repeats dropped; otherwise one message naming every bad entry with what would be accepted.
 *
 * @example
 * ```ts
 * validateGpuRequests(["h100", "A100-80GB:2"]); // { ok: true, value: ["H100", "A100-80GB:2"] }
 * validateGpuRequests(["H100:16"]);             // { ok: false, message: 'gpu "H100:16": at most 8 H100 fit on one node in any cloud catalog ...' }
 * ```
 */
export const validateGpuRequests = (
  specs: ReadonlyArray<string>,
  types: ReadonlyArray<GpuTypeInfo> = GPU_TYPES,
): OptionCheck<ReadonlyArray<string>> => {
  const problems: Array<string> = [];
  const canonical: Array<string> = [];
  for (const spec of specs) {
    const result = problemWith(spec, types);
    if (typeof result === "string") problems.push(result);
    else if (!canonical.includes(formatGpuRequest(result))) canonical.push(formatGpuRequest(result));
  }
  return problems.length > 0 ? { ok: false, message: problems.join("; ") } : { ok: true, value: canonical };
};
