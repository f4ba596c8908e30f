import { Schema } from "effect";
import { Limits } from "../limits/limits.ts";
import { FunctionOptions } from "./function-options.ts";

const Name = Schema.String.check(
  Schema.isPattern(Limits.namePattern, { message: "expected a name of letters, digits, '_' and '-' (at most 64), starting with a letter or '_'" }),
);

/** One function of an app, as discovered from the user's module by the CLI. */
export const FunctionManifest = Schema.Struct({
  name: Name,
  options: FunctionOptions,
});
export type FunctionManifest = typeof FunctionManifest.Type;

/** The body of `POST /v1/apps`: an app's bundle and what it contains. */
export const DeployRequest = Schema.Struct({
  name: Name,
  /** `deployed` apps persist; `ephemeral` ones live for one `ferry run`. */
  mode: Schema.Literals(["deployed", "ephemeral"]),
  environment: Schema.optional(Name),
  /** Deploy to exactly these regions (each function runs only where its own `region` also allows); every region when absent. */
  regions: Schema.optional(Schema.Array(Name).check(Schema.isMinLength(1))),
  /** The app bundled by esbuild as one ESM file, base64-encoded. */
  bundle: Schema.String,
  functions: Schema.Array(FunctionManifest).check(Schema.isMinLength(1)),
});
export type DeployRequest = typeof DeployRequest.Type;

export { Name as AppName };
