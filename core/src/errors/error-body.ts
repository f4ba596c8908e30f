import type { ApiError } from "./errors.ts";

/** The HTTP status of each error of the API's vocabulary (edge and regions alike). */
export const statusOf = (e: ApiError): 400 | 401 | 404 | 409 | 413 | 500 | 503 => {
  switch (e._tag) {
    case "ValidationError": return 400;
    case "UnauthorizedError": return 401;
    case "NotFoundError": return 404;
    case "ConflictError": return 409;
    case "PayloadTooLargeError": return 413;
    case "UnavailableError": return 503;
    // The replicated state log without a majority (regions' StateLogUnavailableError): try again later.
    case "StorageError": return (e.cause as { name?: unknown } | undefined)?.name === "StateLogUnavailableError" ? 503 : 500;
    // NATS did not answer in time (a stream electing a new leader after a server loss): try again.
    case "BusError": return /TimeoutError|no responders|temporarily unavailable/i.test(String((e.cause as { name?: unknown } | undefined)?.name ?? "") + String(e.cause)) ? 503 : 500;
  }
};

/**
 * One error body shape on every HTTP API: `{ error: { type, message, field? } }`.
 *
 * @example
 * ```ts
 * return c.json(errorBody(e), statusOf(e));
 * ```
 */
export const errorBody = (e: ApiError) => ({ error: { type: e._tag, message: e.message, ...("field" in e ? { field: e.field } : {}) } });
