/**
 * Every limit Ferry enforces, named in one place. README's "Limits" table mirrors this file.
 *
 * @example
 * ```ts
 * import { Limits } from "@ferry/core";
 * if (body.length > Limits.maxRequestBodyBytes) throw new Error("too large");
 * ```
 */
export const Limits = {
  /** Largest JSON body the edge accepts on any `/v1` route except deploys (413 above). */
  maxRequestBodyBytes: 16 * 1024 * 1024,
  /** Largest deploy body (bundle + manifest, base64 included) the edge accepts (413 above). */
  maxDeployBodyBytes: 48 * 1024 * 1024,
  /** Largest bundled app accepted at deploy time. */
  maxBundleBytes: 32 * 1024 * 1024,
  /** Largest encoded arguments of one input, and largest encoded result of one output. */
  maxInputBytes: 2 * 1024 * 1024,
  /** Inputs accepted in one create-call or append-inputs request; `.map` sends larger sets in batches. */
  maxInputsPerRequest: 5_000,
  /** Inputs carried by one queue message (a `.map` batch is split into messages of at most this). */
  maxInputsPerMessage: 100,
  /** Bytes carried by one queue message; nats-server is started with a larger max_payload. */
  maxMessageBytes: 4 * 1024 * 1024,
  /** `timeout` option: default and maximum, seconds. */
  defaultTimeoutS: 300,
  maxTimeoutS: 86_400,
  /** `scaledownWindow` option: default, seconds. */
  defaultScaledownWindowS: 60,
  maxScaledownWindowS: 86_400,
  /** `retries` option: maximum count. */
  maxRetries: 10,
  /** `maxContainers` option: maximum value. */
  maxContainersLimit: 10_000,
  /** Longest a single `get`/`remote` HTTP request waits for outputs before the client polls again. */
  maxWaitMs: 50_000,
  /** Outputs are kept this long for `FunctionCall.get` from any process. */
  outputRetentionS: 24 * 3600,
  /** Log lines are kept this long. */
  logRetentionS: 7 * 24 * 3600,
  /** Longest log line kept; longer lines are cut and marked. */
  maxLogLineBytes: 16 * 1024,
  /** `cluster.size` option: most containers one gang-placed cluster may have. */
  maxClusterSize: 64,
  /** `batch.maxBatchSize` option: most inputs a batched function receives in one call. */
  maxBatchSize: 1_000,
  /** `batch.waitMs` option: longest a container waits, from a batch's first input, for it to fill. */
  maxBatchWaitMs: 60_000,
  /** Names of apps, functions and tokens. */
  namePattern: /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/,
} as const;
