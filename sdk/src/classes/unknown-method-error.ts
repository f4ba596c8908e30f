/**
 * A call named a method its class does not have (a typo, or a handle older than the deployed
 * class); the message lists the class's methods.
 *
 * @example
 * ```ts
 * try { Model.method("predcit"); } catch (e) { if (e instanceof UnknownMethodError) console.log(e.message); }
 * ```
 */
export class UnknownMethodError extends Error {
  override name = "UnknownMethodError";
  constructor(cls: string | undefined, method: string, methods: ReadonlyArray<string>) {
    super(`class ${cls ?? "(unnamed)"} has no method ${JSON.stringify(method)}; its methods are ${methods.join(", ") || "none"}`);
  }
}
