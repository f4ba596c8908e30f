import { decodeValue } from "@ferry/core/codec";
import type { WireOutput } from "../client/ferry-client.ts";
import { FunctionTimeoutError } from "../errors.ts";

/** An `Error` carrying the id of the input whose remote attempt threw it. */
export type RemoteError = Error & { inputId?: string; remoteStack?: string };

/**
 * Turn a failed output into the error the caller sees: same `name` and `message` as thrown
 * remotely, the remote stack as `stack` (and `remoteStack`), and the input id; timeouts as
 * `FunctionTimeoutError`.
 */
export const outputError = (o: Extract<WireOutput, { ok: false }>, callId: string): RemoteError => {
  const inputId = `${callId}:${o.idx}`;
  const decoded = decodeValue(o.error);
  let error: RemoteError;
  if (o.kind === "timeout") {
    const message = decoded instanceof Error ? decoded.message : String(decoded);
    error = new FunctionTimeoutError(message);
  } else if (decoded instanceof Error) error = decoded;
  else {
    error = new Error(typeof decoded === "string" ? decoded : `remote code threw a non-Error value: ${JSON.stringify(decoded)}`);
    error.name = "RemoteThrow";
  }
  error.remoteStack = decoded instanceof Error ? decoded.stack : undefined;
  if (error.remoteStack) error.stack = error.remoteStack;
  error.inputId = inputId;
  return error;
};

/** The value of a successful output. */
export const outputValue = (o: Extract<WireOutput, { ok: true }>): unknown => decodeValue(o.value);
