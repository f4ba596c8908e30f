/**
 * A function's input outran its `timeout`.
 *
 * @example
 * ```ts
 * try { await slow.remote(); } catch (e) { if (e instanceof FunctionTimeoutError) console.log(e.inputId); }
 * ```
 */
export class FunctionTimeoutError extends Error {
  override name = "FunctionTimeoutError";
  inputId?: string;
}

/** The call was cancelled (`call.cancel()` or `ferry call cancel`) before it finished. */
export class FunctionCallCancelledError extends Error {
  override name = "FunctionCallCancelledError";
}

/** `call.get({ timeout })` waited `timeout` seconds and the output was not ready. */
export class OutputTimeoutError extends Error {
  override name = "OutputTimeoutError";
}

/** The platform answered with an error status: `status` is the HTTP status, `field` the field at fault. */
export class FerryApiError extends Error {
  override name = "FerryApiError";
  readonly status: number;
  readonly type: string;
  readonly field: string | undefined;
  constructor(status: number, type: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field;
  }
}

/** No platform is configured: neither FERRY_URL/FERRY_TOKEN nor a profile in ~/.ferry. */
export class NotConfiguredError extends Error {
  override name = "NotConfiguredError";
}
