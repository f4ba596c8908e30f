import { serializeError } from "@ferry/core";

const named = (name: string, message: string) => {
  const e = new Error(message);
  e.name = name;
  e.stack = `${name}: ${message}`;
  return serializeError(e);
};

/** The encoded error of an input that outran its function's `timeout`. */
export const timeoutError = (timeoutS: number, inputId: string) =>
  named("FunctionTimeoutError", `input ${inputId} exceeded the function's timeout of ${timeoutS}s`);

/** The encoded error of an input whose container died under it. */
export const crashError = (inputId: string, detail: string) =>
  named("ContainerCrashError", `the container running input ${inputId} exited: ${detail}`);
