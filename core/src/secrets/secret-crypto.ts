import { base64FromBytes, bytesFromBase64 } from "../bytes/base64.ts";

/** The platform key is AES-256: 32 bytes, given base64-encoded (`FERRY_SECRET_KEY`). */
export const SECRET_KEY_BYTES = 32;
/** AES-GCM's recommended 96-bit nonce, fresh and random for every seal. */
const IV_BYTES = 12;
/** Format tag of a sealed value; the key id that follows lets a later rotation find the key. */
const SEALED_VERSION = "v1";

/** The platform key is missing or malformed. */
export class SecretKeyError extends Error {
  override name = "SecretKeyError";
}

/**
 * A sealed value could not be opened: another key sealed it, or it was altered. The message
 * never includes the value.
 */
export class SecretDecryptError extends Error {
  override name = "SecretDecryptError";
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = new TextEncoder();

/**
 * The platform key that seals secrets at rest with AES-256-GCM through WebCrypto (`crypto.subtle`,
 * so the same code runs on Node, Bun, Deno and Workers). `id` names the key without revealing it
 * (the first 8 bytes of its SHA-256) and is stored with every sealed value.
 *
 * @example
 * ```ts
 * const key = await SecretKey.fromBase64(process.env.FERRY_SECRET_KEY!);
 * const sealed = await key.seal("s3cr3t", "ws-1/openai");
 * await key.open(sealed, "ws-1/openai"); // "s3cr3t"
 * ```
 */
export class SecretKey {
  readonly id: string;
  private readonly key: CryptoKey;

  private constructor(key: CryptoKey, id: string) {
    this.key = key;
    this.id = id;
  }

  /** Import a base64 key of exactly 32 bytes; throws `SecretKeyError` otherwise. */
  static async fromBase64(text: string): Promise<SecretKey> {
    const bytes = bytesFromBase64(text);
    if (!bytes) throw new SecretKeyError("FERRY_SECRET_KEY is not base64: generate one with `openssl rand -base64 32`");
    if (bytes.length !== SECRET_KEY_BYTES) {
      throw new SecretKeyError(`FERRY_SECRET_KEY must be ${SECRET_KEY_BYTES} bytes base64-encoded, got ${bytes.length}: generate one with \`openssl rand -base64 32\``);
    }
    const key = await crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
    return new SecretKey(key, hex(digest.subarray(0, 8)));
  }

  /** A fresh random key, base64-encoded (what `ferry up` keeps in its state directory). */
  static generateBase64(): string {
    const bytes = new Uint8Array(SECRET_KEY_BYTES);
    crypto.getRandomValues(bytes);
    return base64FromBytes(bytes);
  }

  /**
   * Encrypt `plaintext`, binding it to `context` (authenticated, not stored): a sealed value
   * opens only with the same context, so a row copied to another workspace or name is useless.
   */
  async seal(plaintext: string, context: string): Promise<string> {
    const iv = new Uint8Array(IV_BYTES);
    crypto.getRandomValues(iv);
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: utf8.encode(context) }, this.key, utf8.encode(plaintext),
    ));
    return `${SEALED_VERSION}:${this.id}:${base64FromBytes(iv)}:${base64FromBytes(ciphertext)}`;
  }

  /** Decrypt a value `seal` produced under this key and `context`; throws `SecretDecryptError`. */
  async open(sealed: string, context: string): Promise<string> {
    const [version, keyId, ivText, ctText, ...rest] = sealed.split(":");
    const iv = ivText === undefined ? undefined : bytesFromBase64(ivText);
    const ciphertext = ctText === undefined ? undefined : bytesFromBase64(ctText);
    if (version !== SEALED_VERSION || rest.length > 0 || !iv || !ciphertext) throw new SecretDecryptError("sealed secret is malformed");
    if (keyId !== this.id) {
      throw new SecretDecryptError(`secret was sealed under platform key ${keyId}, but this key is ${this.id}: every region must run with the same FERRY_SECRET_KEY`);
    }
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: utf8.encode(context) }, this.key, ciphertext as Uint8Array<ArrayBuffer>,
      );
      return new TextDecoder().decode(plain);
    } catch {
      throw new SecretDecryptError("secret failed authentication: it was altered, or belongs to another workspace or name");
    }
  }
}
