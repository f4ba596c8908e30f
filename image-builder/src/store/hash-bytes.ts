import { createHash } from "node:crypto";

/**
 * SHA-256 of `bytes` in lowercase hex, synchronously through Node's crypto (faster than
 * WebCrypto for the many small files of an image).
 *
 * @example
 * ```ts
 * hashBytes(new TextEncoder().encode("hello")); // "2cf24dba…9824"
 * ```
 */
export const hashBytes = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
