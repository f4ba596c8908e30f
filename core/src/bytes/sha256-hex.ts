/**
 * SHA-256 of `data` (bytes, or a string as UTF-8) in lowercase hex, through WebCrypto (every
 * runtime has it: Node, Bun, Deno, workerd).
 *
 * @example
 * ```ts
 * await sha256Hex(new Uint8Array()); // "e3b0c442…b855"
 * ```
 */
export const sha256Hex = async (data: Uint8Array | string): Promise<string> => {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
};
