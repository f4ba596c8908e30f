/**
 * Which container starts a warm pool sandbox can serve: the pooled shape is the default image
 * ("ferry/node"), no GPUs, no volumes, the pool's network mode, and an environment that can be
 * set after Node has started. Anything else takes the normal path (a sandbox started for it).
 */
import type { SandboxNetwork } from "../sandbox/bwrap-args.ts";

/** What of a container start decides whether a pooled sandbox can serve it. */
export interface WarmStartShape {
  /** The function runs in a custom image (its files are bound into the sandbox at start). */
  readonly customImage: boolean;
  /** Volumes the container mounts (bound at start). */
  readonly volumes: number;
  /** GPUs granted (device nodes are bound at start). */
  readonly gpus: number;
  /** The network mode the container's sandbox needs. */
  readonly network: SandboxNetwork;
  /** The container's environment, which a pooled runner sets before importing the app. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Variables Node, libuv, OpenSSL or the dynamic loader read when the process starts (NODE_OPTIONS,
 * NODE_EXTRA_CA_CERTS, UV_THREADPOOL_SIZE, LD_PRELOAD, …): setting them in an already running
 * runner would not take effect, so a container whose environment has one gets a fresh sandbox.
 * NODE_ENV is only read by libraries, at any time.
 */
export const STARTUP_ENV_PATTERN = /^(NODE_(?!ENV$)|UV_|OPENSSL_|SSL_CERT_|LD_|MALLOC_|GLIBC_)/;

/**
 * Why `shape` cannot be served by a pool of `poolNetwork` sandboxes, or undefined when it can.
 *
 * @example
 * ```ts
 * warmMisfit({ customImage: false, volumes: 0, gpus: 0, network: "none", env: { API_KEY: "k" } }, "none"); // undefined
 * warmMisfit({ customImage: false, volumes: 0, gpus: 0, network: "none", env: { NODE_OPTIONS: "--x" } }, "none");
 * // "NODE_OPTIONS is read when Node starts"
 * ```
 */
export const warmMisfit = (shape: WarmStartShape, poolNetwork: SandboxNetwork): string | undefined => {
  if (shape.customImage) return "a custom image";
  if (shape.volumes > 0) return "volumes";
  if (shape.gpus > 0) return "GPUs";
  if (shape.network !== poolNetwork) return `network "${shape.network}" (the pool's is "${poolNetwork}")`;
  const startup = Object.keys(shape.env).find((name) => STARTUP_ENV_PATTERN.test(name));
  if (startup !== undefined) return `${startup} is read when Node starts`;
  return undefined;
};
