import type { Context } from "hono";
import { Effect, Result } from "effect";
import type { ApiError } from "@ferry/core";
import { errorResponse } from "./api-error.ts";

/**
 * Run a route's effect: its value becomes the response, its typed failure the matching status
 * and error body. Defects (bugs) surface as 500 through Hono's error handler.
 */
export const runApi = async <A>(c: Context, effect: Effect.Effect<A, ApiError>, respond: (a: A) => Response | Promise<Response>): Promise<Response> => {
  const r = await Effect.runPromise(Effect.result(effect));
  return Result.isSuccess(r) ? respond(r.success) : errorResponse(c, r.failure);
};

/** Read a JSON body, failing with a 400 that says the body is not JSON. */
export const readJson = async (c: Context): Promise<Result.Result<unknown, string>> => {
  try {
    return Result.succeed(await c.req.json());
  } catch {
    return Result.fail("body is not valid JSON");
  }
};
