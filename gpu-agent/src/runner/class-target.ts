// A class (`app.cls`) as the runner serves it: found by its brand, constructed once per container
// with its instance's parameters, `enter` run before any input, `exit` at shutdown.
import { APP_BRAND, CLS_BRAND } from "./runner-protocol.ts";

/** A constructed class instance, as the SDK's class handle hands it over. */
export interface ClassInstance {
  /** Run one method with its arguments; an unknown method rejects with `UnknownMethodError`. */
  call(method: string, args: unknown[]): Promise<unknown>;
  /** Run the class's `exit`, if it has one. */
  exit(): Promise<void>;
}

/** The SDK's class handle, found by its brand; `instantiate` constructs and runs `enter`. */
interface ClassHandle {
  readonly name?: string;
  instantiate(params: Record<string, unknown> | undefined): Promise<ClassInstance>;
}
interface AppWithClasses { readonly classes?: () => ReadonlyArray<ClassHandle> }

/** Exported classes get their export names, as `ferry deploy` named them, so user code in the container can call them. */
export const nameExportedClasses = (mod: Record<string, unknown>): void => {
  for (const [exportName, value] of Object.entries(mod)) {
    if (value && typeof value === "object" && CLS_BRAND in value && (value as { name?: string }).name === undefined) (value as { name?: string }).name = exportName;
  }
};

/** The class named `name` among a bundle's exports (by export name or `options.name`), or its app's classes. */
export const findClass = (mod: Record<string, unknown>, name: string): ClassHandle | undefined => {
  for (const [exportName, value] of Object.entries(mod)) {
    if (value && typeof value === "object" && CLS_BRAND in value) {
      const h = value as unknown as ClassHandle;
      if ((h.name ?? exportName) === name) return h;
    }
  }
  for (const value of Object.values(mod)) {
    if (value && typeof value === "object" && APP_BRAND in value) {
      const cls = (value as unknown as AppWithClasses).classes?.().find((c) => c.name === name);
      if (cls) return cls;
    }
  }
  return undefined;
};

/**
 * Run a class's `exit` for at most `limitMs`. A throw or an overrun is never fatal (the container
 * is going away either way): it comes back as a line for the container's log.
 *
 * @example
 * ```ts
 * const { problem } = await exitWithin(instance, Limits.classExitTimeoutMs);
 * if (problem) process.stderr.write(`${problem}\n`);
 * ```
 */
export const exitWithin = async (instance: ClassInstance, limitMs: number): Promise<{ readonly problem?: string }> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overrun = new Promise<"overrun">((resolve) => (timer = setTimeout(() => resolve("overrun"), limitMs)));
  try {
    const r = await Promise.race([instance.exit().then(() => "done" as const), overrun]);
    return r === "overrun" ? { problem: `exit() did not finish within ${limitMs} ms (classExitTimeoutMs); stopping the container anyway` } : {};
  } catch (e) {
    return { problem: `exit() threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  } finally {
    clearTimeout(timer);
  }
};
