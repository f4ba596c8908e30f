import { Schema } from "effect";
import { FunctionDefaults, FunctionOptions, resolveFunctionOptions, type ResolvedFunctionOptions } from "../domain/function-options.ts";
import { Limits } from "../limits/limits.ts";

const Seconds = Schema.Number.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxSandboxTimeoutS }));
const AbsolutePath = Schema.String.check(Schema.isPattern(/^\/(?!.*(^|\/)\.\.(\/|$))[^\0]*$/, { message: "expected an absolute path without \"..\"" }));
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A refined key schema would drop bad names silently; the whole record is checked instead.
const Env = Schema.Record(Schema.String, Schema.String).check(Schema.makeFilter((env: Readonly<Record<string, string>>) => {
  const bad = Object.keys(env).find((name) => !ENV_NAME.test(name));
  return bad === undefined || `${JSON.stringify(bad)} is not an environment variable name (letters, digits, _; not starting with a digit)`;
}));

/** Default working directory of a sandbox: a writable directory kept in its snapshots. */
export const SANDBOX_WORKDIR = "/workspace";
/** Working directory of a sandbox that mirrors a function (`ferry shell`): where its app bundle is. */
export const FUNCTION_APP_DIR = "/opt/ferry/app";

/**
 * The body of `POST /v1/sandboxes` (what `Sandbox.create` sends). Durations in seconds.
 *
 * @example
 * ```ts
 * const req: CreateSandboxRequest = { app: "demo", timeout: 600, idleTimeout: 60, memory: 1024 };
 * ```
 */
export const CreateSandboxRequest = Schema.Struct({
  /** The app the sandbox belongs to, by name or id; a name no app has yet creates an empty deployed app. */
  app: Schema.String.check(Schema.isMinLength(1)),
  environment: Schema.optional(Schema.String),
  /** Start from this filesystem snapshot (`snapshotFilesystem()` id). */
  image: Schema.optional(Schema.String),
  /**
   * Start from this built image (the id of its index in the region's block store, as
   * `Sandbox.create` publishes it); with its `env`, working directory and root kind, as a function's.
   */
  imageId: FunctionOptions.fields.imageId,
  imageEnv: FunctionOptions.fields.imageEnv,
  imageWorkdir: FunctionOptions.fields.imageWorkdir,
  imageRoot: FunctionOptions.fields.imageRoot,
  /** Mirror this function of the app: its bundle at /opt/ferry/app, its resources unless given here. */
  functionId: Schema.optional(Schema.String),
  timeout: Schema.optional(Seconds),
  idleTimeout: Schema.optional(Seconds),
  gpu: FunctionOptions.fields.gpu,
  cpu: FunctionOptions.fields.cpu,
  memory: FunctionOptions.fields.memory,
  region: FunctionOptions.fields.region,
  cloud: FunctionOptions.fields.cloud,
  network: FunctionOptions.fields.network,
  workdir: Schema.optional(AbsolutePath),
  env: Schema.optional(Env),
});
export type CreateSandboxRequest = typeof CreateSandboxRequest.Type;

/** The body of `POST …/exec`: the command and, optionally, where and how it runs. */
export const ExecRequest = Schema.Struct({
  command: Schema.Array(Schema.String.check(Schema.isPattern(/^[^\0]*$/, { message: "must not contain NUL" }))).check(Schema.isMinLength(1, { message: "expected a command, e.g. [\"bash\", \"-c\", \"echo hi\"]" })),
  workdir: Schema.optional(AbsolutePath),
  env: Schema.optional(Env),
  /** Run it on a pseudo-terminal (an interactive shell). */
  pty: Schema.optional(Schema.Boolean),
});
export type ExecRequest = typeof ExecRequest.Type;

/** The body of `POST …/execs/:execId/stdin`: base64 bytes, and/or `eof` to close stdin. */
export const StdinChunk = Schema.Struct({
  data: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9+/]*={0,2}$/, { message: "expected base64" }))),
  eof: Schema.optional(Schema.Boolean),
});
export type StdinChunk = typeof StdinChunk.Type;

/** Everything a region and an agent act on for one sandbox, defaults filled in (as it travels edge → region). */
export const ResolvedSandboxOptions = Schema.Struct({
  timeoutS: Schema.Number,
  /** 0: no idle timeout. */
  idleTimeoutS: Schema.Number,
  gpu: Schema.Array(Schema.String),
  /** Cores reserved for placement. */
  cpu: Schema.Number,
  /** CPU quota in cores; 0 (no quota) unless `cpu` was asked for. */
  cpuLimit: Schema.Number,
  /** MiB reserved for placement, and the sandbox's hard memory limit. */
  memoryMiB: Schema.Int,
  regions: Schema.Array(Schema.String),
  clouds: Schema.Array(Schema.String),
  network: Schema.Literals(["outbound", "none"]),
  workdir: Schema.String,
  env: Schema.Record(Schema.String, Schema.String),
  /** The built image it starts from, mounted by the agent as a function container's (absent: the default image). */
  image: Schema.optional(Schema.Struct({
    id: Schema.String,
    env: Schema.Record(Schema.String, Schema.String),
    workdir: Schema.String,
    root: Schema.optional(Schema.Literals(["overlay", "full"])),
  })),
});
export type ResolvedSandboxOptions = typeof ResolvedSandboxOptions.Type;

const asList = (v: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  v === undefined ? [] : typeof v === "string" ? [v] : v;

/** A built image's fields (of a request, or of the function a sandbox mirrors) as the sandbox's `image`. */
const imageOf = (o: Pick<FunctionOptions, "imageId" | "imageEnv" | "imageWorkdir" | "imageRoot">): ResolvedSandboxOptions["image"] =>
  o.imageId === undefined ? undefined : {
    id: o.imageId, env: o.imageEnv ?? {}, workdir: o.imageWorkdir ?? "/", ...(o.imageRoot === "full" ? { root: "full" as const } : {}),
  };

/**
 * Fill in a sandbox's defaults. With `fn` (a function the sandbox mirrors, as `ferry shell`
 * does), its GPU, CPU, memory, regions, clouds and built image apply unless the request names its own.
 * Unlike a function's `memory` (a placement request), a sandbox is held to its memory. A built
 * image's working directory is the execs' default unless the image sets none ("/"): then /workspace.
 *
 * @example
 * ```ts
 * resolveSandboxOptions({ app: "demo" }).timeoutS;   // 300
 * resolveSandboxOptions({ app: "demo" }).memoryMiB;  // 512
 * ```
 */
export const resolveSandboxOptions = (req: CreateSandboxRequest, fn?: FunctionOptions): ResolvedSandboxOptions => {
  const cpu = req.cpu ?? fn?.cpu;
  const image = imageOf(req) ?? (fn ? imageOf(fn) : undefined);
  const imageWorkdir = image && image.workdir !== "/" ? image.workdir : undefined;
  return {
    timeoutS: req.timeout ?? Limits.defaultSandboxTimeoutS,
    idleTimeoutS: req.idleTimeout ?? 0,
    gpu: asList(req.gpu ?? fn?.gpu),
    cpu: cpu ?? FunctionDefaults.cpu,
    cpuLimit: cpu ?? 0,
    memoryMiB: req.memory ?? fn?.memory ?? Limits.defaultSandboxMemoryMiB,
    regions: asList(req.region ?? fn?.region),
    clouds: asList(req.cloud ?? fn?.cloud),
    network: req.network ?? fn?.network ?? "outbound",
    workdir: req.workdir ?? (fn ? FUNCTION_APP_DIR : imageWorkdir ?? SANDBOX_WORKDIR),
    env: req.env ?? {},
    ...(image ? { image } : {}),
  };
};

/**
 * The function options a sandbox is placed with: the broker places a sandbox like one container
 * of a function that asks for the sandbox's resources.
 */
export const sandboxPlacementOptions = (o: ResolvedSandboxOptions): ResolvedFunctionOptions => ({
  ...resolveFunctionOptions({ maxContainers: 1 }),
  gpu: o.gpu,
  cpu: o.cpu,
  memory: o.memoryMiB,
  timeoutS: o.timeoutS,
  regions: o.regions,
  clouds: o.clouds,
  network: o.network,
  scaledownWindowS: o.timeoutS,
  // Travels to the agent with the start (its options), which mounts it as for a function container.
  ...(o.image ? { image: o.image } : {}),
});
