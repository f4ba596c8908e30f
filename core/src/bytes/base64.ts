/**
 * Base64 for bytes on every runtime (Node, Bun, Deno, workerd): `btoa`/`atob` over byte strings,
 * in slices so large inputs never overflow the argument list.
 *
 * @example
 * ```ts
 * bytesFromBase64(base64FromBytes(new Uint8Array([1, 2]))); // Uint8Array [1, 2]
 * ```
 */
export const base64FromBytes = (bytes: Uint8Array): string => {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
};

/** Decode standard base64; `undefined` when `text` is not base64. */
export const bytesFromBase64 = (text: string): Uint8Array | undefined => {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) return undefined;
  let bin: string;
  try {
    bin = atob(clean);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};
