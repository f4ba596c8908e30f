import { Effect } from "effect";
import { NotFoundError } from "@ferry/core";

/** A request header that pins a call or endpoint request to one region (e.g. to test a region, or for data residency). */
export const PIN_REGION_HEADER = "x-ferry-region";

/**
 * The regions a request may go to: those the function allows (`allowed`, empty meaning every
 * region), narrowed to the one the request pins. Pinning a region the app is not deployed to is a
 * 404 naming the regions it is in.
 *
 * @example
 * ```ts
 * yield* regionsForRequest("ap-south", ["us-east", "eu-west"], "demo"); // fails: app demo is deployed in us-east, eu-west
 * ```
 */
export const regionsForRequest = (pinned: string | undefined, allowed: ReadonlyArray<string>, app: string): Effect.Effect<ReadonlyArray<string>, NotFoundError> => {
  if (pinned === undefined || pinned === "") return Effect.succeed(allowed);
  if (allowed.length === 0 || allowed.includes(pinned)) return Effect.succeed([pinned]);
  return Effect.fail(new NotFoundError({ kind: `app ${app} in region`, id: `${pinned} (it is deployed in ${allowed.join(", ")})` }));
};
