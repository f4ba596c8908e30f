// Relative, not "@ferry/core": the SDK is bundled into every app and must not pull in the platform.
import { Limits } from "../../../core/src/limits/limits.ts";
import { checkSecretValues } from "../../../core/src/secrets/secret-values.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's). */
export const SECRET_BRAND = Symbol.for("ferry.secret");

/**
 * A secret: environment variables injected into a function's containers, stored encrypted at
 * rest. Name a secret created with `ferry secret create`, or give the variables inline; inline
 * values are read at deploy time (from the deploying machine's environment, typically), sent in
 * the deploy over HTTPS and stored sealed like any secret, scoped to the app. A value written
 * literally in the source ends up in the app's bundle: read it from `process.env` instead.
 *
 * @example
 * ```ts
 * export const ask = app.function({ secrets: [Secret.fromName("openai"), Secret.fromObject({ MODE: process.env.MODE })] },
 *   async (q: string) => callOpenAI(process.env.OPENAI_API_KEY!, q));
 * ```
 */
export class Secret {
  readonly [SECRET_BRAND] = true;
  /** The secret's name; undefined for an inline (`fromObject`) secret. */
  readonly name: string | undefined;
  // Private, so logging a Secret never shows the values.
  readonly #values: Readonly<Record<string, string | undefined>> | undefined;

  private constructor(name: string | undefined, values: Readonly<Record<string, string | undefined>> | undefined) {
    this.name = name;
    this.#values = values;
  }

  /** The secret named `name` in the caller's workspace; a deploy naming an unknown one fails with 400. */
  static fromName(name: string): Secret {
    if (!Limits.namePattern.test(name)) throw new TypeError(`Secret.fromName: ${JSON.stringify(name)} is not a secret name (letters, digits, '_' and '-', starting with a letter or '_')`);
    return new Secret(name, undefined);
  }

  /**
   * A secret given inline. Values are checked at deploy time, not here: in a container, a
   * variable of another function's secret is simply absent from the environment.
   */
  static fromObject(values: Readonly<Record<string, string | undefined>>): Secret {
    return new Secret(undefined, { ...values });
  }

  /** What the deploy manifest carries: the name, or the variables (checked: every value a string). */
  toJSON(): string | { readonly values: Readonly<Record<string, string>> } {
    if (this.name !== undefined) return this.name;
    const values = this.#values ?? {};
    const unset = Object.keys(values).find((k) => typeof values[k] !== "string");
    if (unset !== undefined) throw new TypeError(`Secret.fromObject: ${unset} has no value: set it in the environment you deploy from`);
    const problem = checkSecretValues(values, "Secret.fromObject");
    if (problem) throw new TypeError(problem.message);
    return { values: values as Record<string, string> };
  }

  toString(): string {
    return this.name !== undefined ? `Secret(${this.name})` : `Secret(inline: ${Object.keys(this.#values ?? {}).join(", ")})`;
  }
}
