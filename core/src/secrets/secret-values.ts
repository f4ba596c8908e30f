import { Limits } from "../limits/limits.ts";

/** An environment variable name a secret may set: a shell identifier. */
export const ENV_VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
/** Variables the platform sets itself (`FERRY_APP`, `FERRY_CONTAINER_ID`, …); a secret may not. */
export const RESERVED_ENV_PREFIX = "FERRY_";
/** Names of anonymous secrets (`Secret.fromObject`) start with this; user names never can. */
export const ANONYMOUS_SECRET_PREFIX = "@";

/** What is wrong with one secret's variables: the field at fault and a message (never the value). */
export interface SecretValuesProblem {
  readonly field: string;
  readonly message: string;
}

const utf8 = new TextEncoder();

/**
 * Check a secret's variables: names are environment variable names outside `FERRY_*`, values
 * strings without NUL, within the named size limits. Returns the first problem, with `field`
 * under `root` (`body.values.API_KEY`); messages name variables, never their values.
 *
 * @example
 * ```ts
 * checkSecretValues({ "1BAD": "x" }, "body.values")?.field; // "body.values.1BAD"
 * checkSecretValues({ OPENAI_API_KEY: "sk-…" }, "body.values"); // undefined
 * ```
 */
export const checkSecretValues = (values: Readonly<Record<string, unknown>>, root: string): SecretValuesProblem | undefined => {
  const keys = Object.keys(values);
  if (keys.length === 0) return { field: root, message: `${root}: a secret needs at least one variable (KEY=value)` };
  if (keys.length > Limits.maxSecretKeys) {
    return { field: root, message: `${root}: ${keys.length} variables; a secret holds at most ${Limits.maxSecretKeys} (maxSecretKeys)` };
  }
  let total = 0;
  for (const key of keys) {
    const field = `${root}.${key}`;
    if (!ENV_VAR_NAME_PATTERN.test(key)) {
      return { field, message: `${field}: ${JSON.stringify(key)} is not an environment variable name (letters, digits and '_', not starting with a digit)` };
    }
    if (key.startsWith(RESERVED_ENV_PREFIX)) {
      return { field, message: `${field}: variables starting with ${RESERVED_ENV_PREFIX} are set by the platform; choose another name` };
    }
    const value = values[key];
    if (typeof value !== "string") return { field, message: `${field}: expected a string value` };
    if (value.includes("\0")) return { field, message: `${field}: the value contains a NUL character, which an environment variable cannot hold` };
    const bytes = utf8.encode(value).byteLength;
    if (bytes > Limits.maxSecretValueBytes) {
      return { field, message: `${field}: the value is ${bytes} bytes; the limit (maxSecretValueBytes) is ${Limits.maxSecretValueBytes}` };
    }
    total += bytes + key.length;
  }
  if (total > Limits.maxSecretBytes) {
    return { field: root, message: `${root}: the variables are ${total} bytes together; the limit (maxSecretBytes) is ${Limits.maxSecretBytes}` };
  }
  return undefined;
};

/**
 * The name under which a function's `Secret.fromObject` values are kept: scoped to the app
 * (mode, name, environment), the function and the secret's position, so a redeploy replaces it.
 *
 * @example
 * ```ts
 * anonymousSecretName({ mode: "deployed", app: "demo", environment: "main", fn: "square", index: 0 }); // "@deployed/demo/main/square/0"
 * ```
 */
export const anonymousSecretName = (o: { mode: string; app: string; environment: string; fn: string; index: number }): string =>
  `${ANONYMOUS_SECRET_PREFIX}${o.mode}/${o.app}/${o.environment}/${o.fn}/${o.index}`;
