import { describe, expect, it } from "vitest";
import { Limits } from "../src/limits/limits.ts";
import { SecretDecryptError, SecretKey, SecretKeyError } from "../src/secrets/secret-crypto.ts";
import { anonymousSecretName, checkSecretValues } from "../src/secrets/secret-values.ts";

const KEY = SecretKey.generateBase64();

describe("SecretKey: AES-256-GCM under the platform key", () => {
  it("seals and opens a value under the same context", async () => {
    const key = await SecretKey.fromBase64(KEY);
    const sealed = await key.seal("sk-live-0123456789", "ws-1/openai");
    expect(await key.open(sealed, "ws-1/openai")).toBe("sk-live-0123456789");
  });

  it("never stores the plaintext, and seals the same value differently each time (fresh nonce)", async () => {
    const key = await SecretKey.fromBase64(KEY);
    const a = await key.seal("sk-live-0123456789", "ctx");
    const b = await key.seal("sk-live-0123456789", "ctx");
    expect(a).not.toContain("sk-live");
    expect(a).not.toBe(b);
    expect(a.startsWith(`v1:${key.id}:`)).toBe(true);
  });

  it("refuses a value moved to another workspace or name (the context is authenticated)", async () => {
    const key = await SecretKey.fromBase64(KEY);
    const sealed = await key.seal("v", "ws-1/openai");
    await expect(key.open(sealed, "ws-2/openai")).rejects.toBeInstanceOf(SecretDecryptError);
    await expect(key.open(sealed, "ws-1/other")).rejects.toThrow(/failed authentication/);
  });

  it("refuses a tampered ciphertext", async () => {
    const key = await SecretKey.fromBase64(KEY);
    const sealed = await key.seal("value", "ctx");
    const parts = sealed.split(":");
    const ct = parts[3]!;
    parts[3] = (ct[0] === "A" ? "B" : "A") + ct.slice(1);
    await expect(key.open(parts.join(":"), "ctx")).rejects.toBeInstanceOf(SecretDecryptError);
    await expect(key.open("garbage", "ctx")).rejects.toThrow(/malformed/);
  });

  it("says which key sealed a value when another key tries to open it", async () => {
    const one = await SecretKey.fromBase64(KEY);
    const other = await SecretKey.fromBase64(SecretKey.generateBase64());
    const sealed = await one.seal("value", "ctx");
    const e = await other.open(sealed, "ctx").catch((x: Error) => x);
    expect(e).toBeInstanceOf(SecretDecryptError);
    expect((e as Error).message).toContain(one.id);
    expect((e as Error).message).toContain("FERRY_SECRET_KEY");
    expect((e as Error).message).not.toContain("value");
  });

  it("accepts only 32-byte base64 keys, saying how to make one", async () => {
    await expect(SecretKey.fromBase64("not base64!")).rejects.toBeInstanceOf(SecretKeyError);
    await expect(SecretKey.fromBase64(btoa("too short"))).rejects.toThrow(/32 bytes.*got 9.*openssl rand -base64 32/);
    expect((await SecretKey.fromBase64(KEY)).id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("checkSecretValues", () => {
  it("accepts environment variable names with string values", () => {
    expect(checkSecretValues({ OPENAI_API_KEY: "sk-1", _x: "" }, "body.values")).toBeUndefined();
  });

  it("refuses invalid and reserved names, naming the field and never the value", () => {
    const bad = checkSecretValues({ "1BAD": "hunter2" }, "body.values");
    expect(bad?.field).toBe("body.values.1BAD");
    expect(bad?.message).not.toContain("hunter2");
    expect(checkSecretValues({ "A-B": "x" }, "v")?.message).toMatch(/not an environment variable name/);
    expect(checkSecretValues({ FERRY_APP: "x" }, "v")?.message).toMatch(/set by the platform/);
    expect(checkSecretValues({}, "v")?.message).toMatch(/at least one variable/);
    expect(checkSecretValues({ A: 1 as unknown as string }, "v")?.message).toMatch(/expected a string/);
    expect(checkSecretValues({ A: "a\0b" }, "v")?.message).toMatch(/NUL/);
  });

  it("enforces the named size limits", () => {
    const big = "x".repeat(Limits.maxSecretValueBytes + 1);
    expect(checkSecretValues({ A: big }, "v")?.message).toContain("maxSecretValueBytes");
    const many = Object.fromEntries(Array.from({ length: Limits.maxSecretKeys + 1 }, (_, i) => [`K${i}`, "v"]));
    expect(checkSecretValues(many, "v")?.message).toContain("maxSecretKeys");
    const total = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`K${i}`, "x".repeat(Limits.maxSecretValueBytes)]));
    expect(checkSecretValues(total, "v")?.message).toContain("maxSecretBytes");
  });

  it("names anonymous secrets by app, environment, function and position, outside the user name space", () => {
    const name = anonymousSecretName({ mode: "deployed", app: "demo", environment: "main", fn: "ask", index: 1 });
    expect(name).toBe("@deployed/demo/main/ask/1");
    expect(Limits.namePattern.test(name)).toBe(false);
  });
});
