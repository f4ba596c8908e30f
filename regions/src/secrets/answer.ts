import type { Context } from "hono";
import { Effect, Result } from "effect";
import { errorBody, statusOf, ValidationError, type ApiError } from "@ferry/core";

/** Query parameter naming the caller's workspace: set by the edge after it authenticated the caller. */
export const WORKSPACE_PARAM = "workspace";

/**
 * Run a route's effect: its value becomes the response, its typed failure the API's error body
 * and status (the same shape the edge answers with, so the edge forwards it as it is).
 */
export const answer = async <A>(c: Context, effect: Effect.Effect<A, ApiError>, respond: (a: A) => Response | Promise<Response>): Promise<Response> => {
  const r = await Effect.runPromise(Effect.result(effect));
  return Result.isSuccess(r) ? respond(r.success) : c.json(errorBody(r.failure), statusOf(r.failure));
};

/** The workspace the edge named for this request, or a 400 when it named none. */
export const workspaceOf = (c: Context): Effect.Effect<string, ValidationError> => {
  const ws = c.req.query(WORKSPACE_PARAM);
  return ws ? Effect.succeed(ws) : Effect.fail(new ValidationError({ field: `query.${WORKSPACE_PARAM}`, message: `query.${WORKSPACE_PARAM}: the workspace is missing` }));
};

/** The JSON body, or a 400 saying it is not JSON. */
export const jsonBody = (c: Context): Effect.Effect<unknown, ValidationError> =>
  Effect.tryPromise({ try: () => c.req.json(), catch: () => new ValidationError({ field: "body", message: "body is not valid JSON" }) });
