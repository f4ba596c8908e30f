// Lines of JSON exchanged between the agent and the runner inside a sandbox, over fd 3.

/** Agent → runner. */
export type ToRunner =
  | { readonly t: "load"; readonly bundle: string; readonly function: string }
  | { readonly t: "in"; readonly id: string; readonly args: unknown }
  // A batched function's inputs, run as one call of the user's function; one `out` per id.
  | { readonly t: "batch"; readonly ids: ReadonlyArray<string>; readonly args: ReadonlyArray<unknown> }
  | { readonly t: "shutdown" };

/** Runner → agent. */
export type FromRunner =
  | { readonly t: "ready" }
  | { readonly t: "load_error"; readonly error: unknown }
  | { readonly t: "out"; readonly id: string; readonly ok: true; readonly value: unknown }
  | { readonly t: "out"; readonly id: string; readonly ok: false; readonly error: unknown }
  | { readonly t: "log"; readonly id: string; readonly stream: "stdout" | "stderr"; readonly text: string };

/** Brands the SDK puts on its objects, shared with the SDK by `Symbol.for` across bundles. */
export const FUNCTION_BRAND = Symbol.for("ferry.function");
export const APP_BRAND = Symbol.for("ferry.app");

/** Split a byte stream into lines, keeping a partial tail for the next chunk. */
export const lineSplitter = (onLine: (line: string) => void) => {
  let tail = "";
  return (chunk: Buffer | string) => {
    const text = tail + chunk.toString();
    const lines = text.split("\n");
    tail = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  };
};
