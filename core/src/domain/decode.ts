import { Result, Schema } from "effect";
import { ValidationError } from "../errors/errors.ts";

const PATH_LINE = /\n\s*at (.+)$/m;

/** `["functions"][1]["timeout"]` → `functions[1].timeout`. */
const toDottedPath = (schemaPath: string): string =>
  schemaPath.replace(/\["([^"]*)"\]/g, ".$1").replace(/^\./, "");

/**
 * Decode `input` with `schema`, or fail with a `ValidationError` naming the field at fault,
 * prefixed with `root` (`body.functions[1].options.timeout`).
 *
 * @example
 * ```ts
 * const r = decodeAt(DeployRequest, json, "body");
 * ```
 */
export const decodeAt = <S extends Schema.Top>(schema: S, input: unknown, root: string): Result.Result<S["Type"], ValidationError> => {
  const r = Schema.decodeUnknownResult(schema as never)(input) as Result.Result<S["Type"], Schema.SchemaError>;
  if (Result.isSuccess(r)) return Result.succeed(r.success);
  const text = r.failure.message;
  const match = PATH_LINE.exec(text);
  const path = match ? toDottedPath(match[1]) : "";
  const field = path ? `${root}.${path}`.replace(/\.\[/g, "[") : root;
  const message = text.replace(PATH_LINE, "").trim();
  return Result.fail(new ValidationError({ field, message: `${field}: ${message}` }));
};
