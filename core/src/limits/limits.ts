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
  /** `schedule: Period(…)`: shortest and longest period, seconds (400 at deploy outside them). */
  minSchedulePeriodS: 1,
  maxSchedulePeriodS: 366 * 24 * 3600,
  /** `schedule: Cron(…)`: longest expression and timezone name, characters. */
  maxCronExpressionLength: 256,
  /** Longest a class's `exit()` may run at container shutdown before its sandbox is killed, ms. */
  classExitTimeoutMs: 10_000,
  /** Largest encoded parameters of one parametrised class instance (`Model.with({…})`), bytes (413 above). */
  maxClassParamsBytes: 16 * 1024,
  /** Variables in one secret. */
  maxSecretKeys: 100,
  /** Bytes of one secret variable's value (UTF-8). */
  maxSecretValueBytes: 32 * 1024,
  /** Bytes of one secret's variables, names and values together. */
  maxSecretBytes: 256 * 1024,
  /** Secrets one function may use. */
  maxSecretsPerFunction: 32,
  /** Volumes one function may mount. */
  maxVolumesPerFunction: 16,
  /** Largest file a volume holds. */
  maxVolumeFileBytes: 1024 * 1024 * 1024,
  /** Largest volume: the files of its current version together. */
  maxVolumeBytes: 16 * 1024 * 1024 * 1024,
  /** Most files one volume holds. */
  maxVolumeFiles: 100_000,
  /** Longest path inside a volume, bytes (UTF-8). */
  maxVolumePathBytes: 1024,
  /** Volume files are stored in content-addressed blocks of this size (the last one smaller). */
  volumeBlockBytes: 4 * 1024 * 1024,
  /** Sandbox `timeout` (seconds of life from creation): default and maximum; `idleTimeout` has the same maximum. */
  defaultSandboxTimeoutS: 300,
  maxSandboxTimeoutS: 86_400,
  /** Memory (MiB) a sandbox is held to when `memory` is left out: above it, the kernel OOM-kills in the sandbox. */
  defaultSandboxMemoryMiB: 512,
  /** Processes started by `exec` that may run at once in one sandbox or container. */
  maxExecsPerSandbox: 64,
  /** Largest stdin chunk of one request to a running exec; the SDK splits larger writes. */
  maxStdinChunkBytes: 1024 * 1024,
  /** Largest filesystem snapshot (`snapshotFilesystem`: a tar of the sandbox's /tmp and /workspace). */
  maxSnapshotBytes: 128 * 1024 * 1024,
  /** Largest encoded value (value codec, JSON) under one Dict key (413 above). */
  maxDictValueBytes: 1024 * 1024,
  /** Most keys one Dict holds, expired keys not yet purged included (409 when full; expired ones are purged first). */
  maxDictKeys: 100_000,
  /** Longest Dict key, UTF-8 bytes; a key is any non-empty string without control characters. */
  maxDictKeyBytes: 512,
  /** Longest `ttl` of a Dict entry, seconds (30 days). */
  maxDictTtlS: 30 * 24 * 3600,
  /** Largest encoded Queue item (value codec, JSON) (413 above). */
  maxQueueItemBytes: 1024 * 1024,
  /** Most items one Queue holds, all partitions together (409 when full; `putMany` writes all or nothing). */
  maxQueueItems: 100_000,
  /** Most items one partition of a Queue holds (409 when full). */
  maxQueuePartitionItems: 50_000,
  /** Longest Queue partition key, UTF-8 bytes; like a Dict key, any non-empty string without control characters. */
  maxQueuePartitionBytes: 64,
  /** Dict entries in one `put`/`update` request, Queue items in one `putMany` or `getMany` request. */
  maxStoreItemsPerRequest: 5_000,
  /** Largest request body user code may send through its container's API bridge (413 above); bytes count as sent, not as their base64 on fd 3 (a volume write sends 4 MiB blocks, so any file fits). */
  maxContainerApiRequestBytes: 16 * 1024 * 1024,
  /** Largest response the API bridge relays back into a container (413 above): a `vol.read` inside a container reads at most this much. */
  maxContainerApiResponseBytes: 64 * 1024 * 1024,
  /** API requests one container may have in flight through its bridge at once (429 above). */
  maxContainerApiInFlight: 256,
  /** Image files larger than this are stored as content-addressed chunks of this size (the last one smaller). */
  imageChunkBytes: 4 * 1024 * 1024,
  /** Largest encoded image index (the JSON list of an image's paths, modes and digests). */
  maxImageIndexBytes: 64 * 1024 * 1024,
  /** Most entries (files, directories, symlinks) one image index lists. */
  maxImageIndexEntries: 1_000_000,
  /** A node's block cache (shared by every image on it) never holds more than this many bytes, by default. */
  defaultNodeBlockCacheBytes: 32 * 1024 * 1024 * 1024,
  /** Times a node fetches one block before giving up, when fetches fail or arrive corrupted (digest mismatch). */
  blockFetchAttempts: 3,
  /** Blocks a node fetches at once when prefetching an image's recorded reads. */
  blockPrefetchConcurrency: 16,
  /** Largest body of one request to a region's SQL-over-HTTP endpoint (413 above); holds a deploy's bundle, base64. */
  maxSqlPipelineBodyBytes: 64 * 1024 * 1024,
  /** SQL-over-HTTP streams a region keeps open at once (parked under batons or being served; 503 above). */
  maxSqlStreams: 1_000,
  /** A SQL-over-HTTP stream is dropped after this long without a request; its baton then fails with STREAM_EXPIRED. */
  sqlStreamIdleMs: 10_000,
  /** SQL texts one SQL-over-HTTP stream may hold at once (`store_sql`; the client keeps at most 30). */
  maxSqlStoredPerStream: 1_000,
  /** Largest request body a web endpoint accepts (413 above: at once from Content-Length, else when the streamed body passes it). */
  maxEndpointBodyBytes: 64 * 1024 * 1024,
  /** Largest piece of an endpoint's request or response body on one hop (a NATS message, a line to the runner); bodies stream in such pieces. */
  endpointBodyChunkBytes: 256 * 1024,
  /** Request bodies up to this size (by Content-Length) travel inline with the request instead of streaming piece by piece. */
  endpointInlineBodyBytes: 64 * 1024,
  /** Longest a streaming endpoint body (either way) may go without a piece moving before it is cut (a response not begun: 504). */
  endpointIdleStreamTimeoutMs: 5 * 60 * 1000,
  /** Longest an endpoint request waits for a container to take it, beyond the function's `timeout` for its first response byte (504 after both). */
  endpointStartTimeoutMs: 120_000,
  /** Pre-started runtime sandboxes each agent keeps waiting for cold starts of the default image (0 turns the warm pool off). */
  defaultWarmPoolSize: 2,
  /** Most pre-started sandboxes one agent may keep waiting (`ferry agent --warm-pool`, `AgentOptions.warmPool`). */
  maxWarmPoolSize: 16,
  /** Names of apps, functions, tokens, dicts and queues. */
  namePattern: /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/,
} as const;
