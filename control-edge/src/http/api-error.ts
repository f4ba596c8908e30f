import type { Context } from "hono";
import { errorBody, statusOf, type ApiError } from "@ferry/core";

/** Answer with `e` in the API's one error shape and status. */
export const errorResponse = (c: Context, e: ApiError) => c.json(errorBody(e), statusOf(e));
