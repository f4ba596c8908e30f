const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * A random, URL-safe id with a kind prefix (`fc-…` for a function call), 16 base-36 characters
 * of entropy (~82 bits): unguessable, so an id alone never grants access, but still checked
 * against the caller's workspace.
 *
 * @example
 * ```ts
 * newId("fc"); // "fc-0k3x9…"
 * ```
 */
export const newId = (kind: string, length = 16): string => {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = `${kind}-`;
  for (const b of bytes) out += ALPHABET[b % 36];
  return out;
};

/** The input id of input `index` of call `callId`: stable across retries and redeliveries. */
export const inputIdOf = (callId: string, index: number): string => `${callId}:${index}`;
