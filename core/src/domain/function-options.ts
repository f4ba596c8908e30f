import { Schema } from "effect";
import { Limits } from "../limits/limits.ts";
import { variantOf } from "./class-variant.ts";
import { ScheduleOption } from "./schedule.ts";
import { ANONYMOUS_SECRET_PREFIX } from "../secrets/secret-values.ts";
import { mountPathProblem } from "../volumes/volume-paths.ts";
import { EndpointOption } from "../endpoints/endpoint-option.ts";

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0));

/** `retries`: a count, or a policy with exponential backoff (delays in milliseconds). */
export const RetryPolicy = Schema.Struct({
  maxRetries: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxRetries })),
  initialDelayMs: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 60_000 }))),
  backoffCoefficient: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 1, maximum: 10 }))),
  maxDelayMs: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 600_000 }))),
});
export type RetryPolicy = typeof RetryPolicy.Type;

const GpuRequest = Schema.String.check(
  Schema.isPattern(/^(any|[A-Za-z0-9][A-Za-z0-9-]*)(:[1-9][0-9]?)?$/, { message: "expected a GPU like \"H100\", \"A100-80GB:2\" or \"any\"" }),
);

/** `cluster`: `size` containers gang-placed in one region (and one RDMA fabric with `rdma`). */
export const ClusterOptions = Schema.Struct({
  size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxClusterSize })),
  rdma: Schema.optional(Schema.Boolean),
});

/** `batch`: the function takes a list of inputs and returns one output per input, in order. */
const BatchOptions = Schema.Struct({
  maxBatchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxBatchSize })),
  waitMs: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxBatchWaitMs })),
});

const StringOrList = Schema.Union([Schema.String, Schema.Array(Schema.String)]);

/** A secret by name; `@…` names are the app-scoped secrets the edge keeps for `Secret.fromObject`. */
const SecretName = Schema.String.check(Schema.makeFilter((s: string) =>
  Limits.namePattern.test(s) || (s.startsWith(ANONYMOUS_SECRET_PREFIX) && s.length <= 512)
    ? undefined
    : "expected a secret name of letters, digits, '_' and '-' (at most 64), starting with a letter or '_'"));
const VolumeName = Schema.String.check(Schema.isPattern(Limits.namePattern, { message: "expected a volume name of letters, digits, '_' and '-' (at most 64), starting with a letter or '_'" }));
/** Keys are checked here, not by a refined key schema: a Record silently drops keys its key schema refuses. */
const mountPathsProblem = (volumes: Readonly<Record<string, string>>) => {
  for (const mount of Object.keys(volumes)) {
    const problem = mountPathProblem(mount);
    if (problem) return { path: [mount], issue: problem };
  }
  return undefined;
};

/** One step of an image (`Image` in the SDK): what the image builder runs, in order. */
export const ImageStep = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("aptInstall"), packages: Schema.Array(Schema.String) }),
  Schema.Struct({ kind: Schema.Literal("npmInstall"), dependencies: Schema.optional(Schema.Record(Schema.String, Schema.String)), lockfile: Schema.optional(Schema.String), packageJson: Schema.optional(Schema.String) }),
  Schema.Struct({ kind: Schema.Literal("runCommands"), commands: Schema.Array(Schema.String) }),
  Schema.Struct({ kind: Schema.Literal("addLocalDir"), local: Schema.String, remote: Schema.String, copy: Schema.Boolean }),
  Schema.Struct({ kind: Schema.Literal("addLocalFile"), local: Schema.String, remote: Schema.String, copy: Schema.Boolean }),
  Schema.Struct({ kind: Schema.Literal("env"), vars: Schema.Record(Schema.String, Schema.String) }),
  Schema.Struct({ kind: Schema.Literal("workdir"), path: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("runFunction"), function: Schema.String }),
]);
export type ImageStep = typeof ImageStep.Type;

/** The base an image starts from: the default "ferry/node", Debian slim, or an imported OCI layout. */
export const ImageBase = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("ferry/node") }),
  Schema.Struct({ kind: Schema.Literal("debian-slim"), suite: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("oci"), path: Schema.String }),
  // A sandbox's files (`sb.snapshotFilesystem()`), by snapshot id: already an image in its region, never built.
  Schema.Struct({ kind: Schema.Literal("snapshot"), id: Schema.String.check(Schema.isPattern(/^sn-[0-9a-z]+$/, { message: "expected a snapshot id (sn-…)" })) }),
]);
export type ImageBase = typeof ImageBase.Type;

/** `image`: an image spec as `Image` serialises it (built by the image builder; ignored elsewhere for now). */
export const ImageSpec = Schema.Struct({ base: ImageBase, steps: Schema.Array(ImageStep) });
export type ImageSpec = typeof ImageSpec.Type;

/**
 * The options of `app.function(options, fn)` as they travel in a deploy manifest. Durations are
 * seconds unless the name says otherwise.
 */
export const FunctionOptions = Schema.Struct({
  /** The function's image (see ImageSpec), as the user wrote it; what runs is `imageId`. */
  image: Schema.optional(ImageSpec),
  /** Set by deploy after building `image`: the id (sha256) of its uploaded index in the region's block store. */
  imageId: Schema.optional(Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected an image id (64 lowercase hex characters)" }))),
  /** The built image's environment (its `env` steps), set with `imageId`. */
  imageEnv: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** The built image's working directory (its last `workdir` step), set with `imageId`. */
  imageWorkdir: Schema.optional(Schema.String),
  /**
   * How a container's root is made from the image, set with `imageId`: "overlay" (absent too: the
   * "ferry/node" base, the node's own root with the image's paths bound on top) or "full" (a
   * Debian or OCI base: the image is the whole root, plus only what the platform adds).
   */
  imageRoot: Schema.optional(Schema.Literals(["overlay", "full"])),
  /** Where the image's `npmInstall` steps installed (e.g. "/app"): bare imports the bundle left out resolve from there. */
  imageNpmDirs: Schema.optional(Schema.Array(Schema.String.check(Schema.isPattern(/^\//, { message: "expected an absolute path" })))),
  /**
   * Set by the CLI at bundle time: sha256 of this function's code (the app bundle with every other
   * function's handler cut out) and options. A redeploy keeps its containers while it is unchanged,
   * even when another function of the same bundle changed.
   */
  codeFingerprint: Schema.optional(Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected a code fingerprint (64 lowercase hex characters)" }))),
  runtime: Schema.optional(Schema.Literals(["node", "bun"])),
  gpu: Schema.optional(Schema.Union([GpuRequest, Schema.Array(GpuRequest)])),
  cpu: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0.125, maximum: 256 }))),
  memory: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 64, maximum: 2_097_152 }))),
  timeout: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxTimeoutS }))),
  retries: Schema.optional(Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxRetries })), RetryPolicy])),
  region: Schema.optional(StringOrList),
  cloud: Schema.optional(StringOrList),
  minContainers: Schema.optional(PositiveInt),
  maxContainers: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxContainersLimit }))),
  bufferContainers: Schema.optional(PositiveInt),
  scaledownWindow: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxScaledownWindowS }))),
  maxInputs: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))),
  network: Schema.optional(Schema.Literals(["outbound", "none"])),
  batch: Schema.optional(BatchOptions),
  cluster: Schema.optional(ClusterOptions),
  /** Run on a schedule (deployed apps only): `Cron("0 * * * *")` or `Period({ minutes: 5 })`. Not on classes. */
  schedule: Schema.optional(ScheduleOption),
  /** Set by `app.cls`: the class's methods. A class is one deployable unit; each input names its method. */
  methods: Schema.optional(Schema.Array(Schema.String.check(Schema.isPattern(/^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/, { message: "expected a method name" }))).check(Schema.isMinLength(1, { message: "a class needs at least one method" }))),
  /** Set by `app.endpoint` / `app.webApp`: the function is served over HTTP through the edge. */
  endpoint: Schema.optional(EndpointOption),
  /** Secrets by name, injected as environment variables. */
  secrets: Schema.optional(Schema.Array(SecretName).check(Schema.isMaxLength(Limits.maxSecretsPerFunction, { message: `at most ${Limits.maxSecretsPerFunction} secrets per function (maxSecretsPerFunction)` }))),
  /** Mount path → volume name. */
  volumes: Schema.optional(Schema.Record(Schema.String, VolumeName).check(Schema.makeFilter(mountPathsProblem), Schema.isMaxProperties(Limits.maxVolumesPerFunction, { message: `at most ${Limits.maxVolumesPerFunction} volumes per function (maxVolumesPerFunction)` }))),
});
export type FunctionOptions = typeof FunctionOptions.Type;

/** Options with every default filled in: what the region and agent act on. */
export interface ResolvedFunctionOptions {
  readonly runtime: "node" | "bun";
  readonly gpu: ReadonlyArray<string>;
  readonly cpu: number;
  readonly memory: number;
  readonly timeoutS: number;
  readonly retries: Required<RetryPolicy>;
  readonly regions: ReadonlyArray<string>;
  readonly clouds: ReadonlyArray<string>;
  readonly minContainers: number;
  readonly maxContainers: number;
  readonly bufferContainers: number;
  readonly scaledownWindowS: number;
  readonly maxInputs: number;
  readonly network: "outbound" | "none";
  /** Dynamic batching; `maxInputs` then counts concurrent batches. */
  readonly batch?: { readonly maxBatchSize: number; readonly waitMs: number };
  /** Gang placement: every input runs on all `size` ranks; rank 0's output is the result. */
  readonly cluster?: { readonly size: number; readonly rdma: boolean };
  /**
   * Set for a class (`app.cls`): the container constructs it (named `name` with `params` for a
   * parametrised instance, else the function's own name) and runs its `enter` before any input.
   */
  readonly cls?: { readonly name?: string; readonly params?: unknown };
  /** Secret names, in order: a later secret's variable wins over an earlier one's (none when absent). */
  readonly secrets?: ReadonlyArray<string>;
  /** Normalised mount path (`/mnt/data`) → volume name (none when absent). */
  readonly volumes?: Readonly<Record<string, string>>;
  /** The built image containers start from, loaded lazily by the agent (absent: the default "ferry/node"). */
  readonly image?: {
    readonly id: string;
    readonly env: Readonly<Record<string, string>>;
    readonly workdir: string;
    /** "full": the image is the container's whole root (a Debian or OCI base); absent or "overlay": bound over the node's base. */
    readonly root?: "overlay" | "full";
    /** Directories whose node_modules the runner resolves bare imports from (the image's `npmInstall` dirs). */
    readonly npmDirs?: ReadonlyArray<string>;
  };
}

/** Defaults for options a function leaves out (Modal's, where Modal has one). */
export const FunctionDefaults = {
  cpu: 0.125,
  memory: 128,
  maxContainers: 100,
  initialDelayMs: 1_000,
  backoffCoefficient: 2,
  maxDelayMs: 60_000,
} as const;

const asList = (v: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  v === undefined ? [] : typeof v === "string" ? [v] : v;

/**
 * Fill in defaults. A bare `retries: n` retries n times with 1 s initial delay doubling to 60 s.
 *
 * @example
 * ```ts
 * resolveFunctionOptions({ timeout: 5 }).timeoutS; // 5
 * ```
 */
export const resolveFunctionOptions = (o: FunctionOptions): ResolvedFunctionOptions => {
  const retries = typeof o.retries === "number" || o.retries === undefined ? { maxRetries: o.retries ?? 0 } : o.retries;
  return {
    runtime: o.runtime ?? "node",
    gpu: asList(o.gpu),
    cpu: o.cpu ?? FunctionDefaults.cpu,
    memory: o.memory ?? FunctionDefaults.memory,
    timeoutS: o.timeout ?? Limits.defaultTimeoutS,
    retries: {
      maxRetries: retries.maxRetries,
      initialDelayMs: retries.initialDelayMs ?? FunctionDefaults.initialDelayMs,
      backoffCoefficient: retries.backoffCoefficient ?? FunctionDefaults.backoffCoefficient,
      maxDelayMs: retries.maxDelayMs ?? FunctionDefaults.maxDelayMs,
    },
    regions: asList(o.region),
    clouds: asList(o.cloud),
    minContainers: o.minContainers ?? 0,
    maxContainers: o.maxContainers ?? FunctionDefaults.maxContainers,
    bufferContainers: o.bufferContainers ?? 0,
    scaledownWindowS: o.scaledownWindow ?? Limits.defaultScaledownWindowS,
    maxInputs: o.maxInputs ?? 1,
    network: o.network ?? "outbound",
    ...(o.batch ? { batch: { maxBatchSize: o.batch.maxBatchSize, waitMs: o.batch.waitMs } } : {}),
    ...(o.cluster ? { cluster: { size: o.cluster.size, rdma: o.cluster.rdma ?? false } } : {}),
    ...resolveClass(o),
    secrets: o.secrets ?? [],
    volumes: Object.fromEntries(Object.entries(o.volumes ?? {}).map(([mount, name]) => [`/${mount.split("/").filter((s) => s !== "" && s !== ".").join("/")}`, name])),
    ...(o.imageId ? {
      image: {
        id: o.imageId, env: o.imageEnv ?? {}, workdir: o.imageWorkdir ?? "/",
        ...(o.imageRoot === "full" ? { root: "full" as const } : {}),
        ...(o.imageNpmDirs && o.imageNpmDirs.length > 0 ? { npmDirs: [...o.imageNpmDirs] } : {}),
      },
    } : {}),
  };
};

/** Delay before retry number `attempt` (1-based) under `policy`. */
export const retryDelayMs = (policy: Required<RetryPolicy>, attempt: number): number =>
  Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffCoefficient ** Math.max(0, attempt - 1));

/** A class's part of the resolved options: what its containers construct. */
const resolveClass = (o: FunctionOptions): Pick<ResolvedFunctionOptions, "cls"> => {
  const variant = variantOf(o);
  if (variant) return { cls: { name: variant.cls, params: variant.params } };
  return o.methods ? { cls: {} } : {};
};
