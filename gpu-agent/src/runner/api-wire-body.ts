// How API bridge bodies travel on the fd-3 wire (JSON lines): text as it is, bytes as base64.
// The JSON/text path is unchanged (a plain string, no copy, no encoding); only bytes, such as a
// volume block upload or a volume file read, pay for base64.

/** A request or response body on the fd-3 wire: text as a string, bytes as `{ base64 }`. */
export type WireBody = string | { readonly base64: string };

/**
 * A body as the wire carries it.
 *
 * @example
 * ```ts
 * toWireBody('{"key":"k"}'); // '{"key":"k"}'
 * toWireBody(new Uint8Array([0, 255])); // { base64: "AP8=" }
 * ```
 */
export const toWireBody = (body: string | Uint8Array): WireBody =>
  typeof body === "string" ? body : { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64") };

/**
 * A body back from the wire: text as a string, bytes as a `Uint8Array`; `undefined` when `body`
 * is neither (a malformed line).
 *
 * @example
 * ```ts
 * fromWireBody({ base64: "AP8=" }); // Uint8Array [0, 255]
 * fromWireBody("{}"); // "{}"
 * ```
 */
export const fromWireBody = (body: unknown): string | Uint8Array | undefined => {
  if (typeof body === "string") return body;
  if (body && typeof body === "object" && typeof (body as { base64?: unknown }).base64 === "string") {
    const b = Buffer.from((body as { base64: string }).base64, "base64");
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return undefined;
};

/**
 * How many bytes a wire body stands for, without decoding it (base64: from its length).
 *
 * @example
 * ```ts
 * wireBodyBytes({ base64: "AP8=" }); // 2
 * wireBodyBytes("é"); // 2
 * ```
 */
export const wireBodyBytes = (body: WireBody): number => {
  if (typeof body === "string") return Buffer.byteLength(body);
  const b64 = body.base64;
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - padding);
};

/**
 * Whether a response of this content type is relayed as text (JSON, NDJSON, `text/*`, or none
 * given: the API speaks JSON); anything else (a volume file's `application/octet-stream`) is
 * relayed as bytes.
 *
 * @example
 * ```ts
 * isTextContentType("application/json; charset=utf-8"); // true
 * isTextContentType("application/octet-stream"); // false
 * ```
 */
export const isTextContentType = (contentType: string | null | undefined): boolean => {
  if (!contentType) return true;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return type.startsWith("text/") || type === "application/json" || type === "application/x-ndjson" || type.endsWith("+json");
};
