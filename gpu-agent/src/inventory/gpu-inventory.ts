import { execFile } from "node:child_process";
import { existsSync } from "node:fs";

/** One GPU of a node, by its index (what CUDA_VISIBLE_DEVICES names). */
export interface GpuDevice {
  readonly index: number;
  readonly type: string;
  readonly memoryMiB: number;
}

/** A node's GPUs and where they came from. */
export interface GpuInventory {
  readonly devices: ReadonlyArray<GpuDevice>;
  /** `true` for `--gpus H100:8` (development, tests, simulated clouds); `false` when read from nvidia-smi. */
  readonly simulated: boolean;
}

/** Most GPUs one simulated node may claim: the largest real nodes have 8 or 16. */
export const MAX_SIMULATED_GPUS = 64;
/** nvidia-smi gets this long to answer before the node is taken to have no GPU. */
const NVIDIA_SMI_TIMEOUT_MS = 10_000;

/**
 * Parse a simulated inventory: `"H100:8"`, `"A100-80GB:2,L4"` (count defaults to 1). Throws a
 * clear error on anything else.
 *
 * @example
 * ```ts
 * parseSimulatedGpus("H100:2").devices.map((d) => d.index); // [0, 1]
 * ```
 */
export const parseSimulatedGpus = (spec: string, memoryMiBOf: (type: string) => number = () => 0): GpuInventory => {
  const devices: GpuDevice[] = [];
  for (const part of spec.split(",").map((p) => p.trim()).filter((p) => p.length > 0)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?::(\d+))?$/.exec(part);
    const count = m ? Number(m[2] ?? 1) : NaN;
    if (!m || !Number.isInteger(count) || count < 1) throw new Error(`invalid --gpus entry ${JSON.stringify(part)}: expected TYPE or TYPE:COUNT, e.g. H100:8`);
    for (let i = 0; i < count; i++) devices.push({ index: devices.length, type: m[1], memoryMiB: memoryMiBOf(m[1]) });
  }
  if (devices.length > MAX_SIMULATED_GPUS) throw new Error(`--gpus offers ${devices.length} GPUs; a node has at most ${MAX_SIMULATED_GPUS}`);
  return { devices, simulated: true };
};

/** nvidia-smi's names ("NVIDIA H100 80GB HBM3") mapped to Ferry's catalog names ("H100"). */
export const gpuTypeFromNvidiaName = (name: string, memoryMiB: number): string => {
  const n = name.replace(/^NVIDIA\s+/i, "").toUpperCase();
  if (n.includes("H200")) return "H200";
  if (n.includes("H100")) return "H100";
  if (n.includes("B200")) return "B200";
  if (n.includes("GH200")) return "GH200";
  if (n.includes("A100")) return memoryMiB > 50_000 ? "A100-80GB" : "A100";
  if (n.includes("L40S")) return "L40S";
  if (n.includes("L40")) return "L40";
  if (n.includes("L4")) return "L4";
  if (n.includes("A10G")) return "A10G";
  if (n.includes("A10")) return "A10";
  if (n.includes("T4")) return "T4";
  if (n.includes("V100")) return "V100";
  const rtx = /RTX\s*(A?\d{4})/.exec(n);
  if (rtx) return `RTX${rtx[1]}`;
  return n.split(/\s+/)[0] ?? n;
};

/** Parse `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`. */
export const parseNvidiaSmi = (csv: string): GpuInventory => ({
  simulated: false,
  devices: csv.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).map((line) => {
    const [index, name, memory] = line.split(",").map((f) => f.trim());
    const memoryMiB = Number(memory);
    return { index: Number(index), type: gpuTypeFromNvidiaName(name ?? "", memoryMiB), memoryMiB };
  }),
});

/**
 * The node's real GPUs, from nvidia-smi; none when it is missing or fails (a CPU node).
 *
 * @example
 * ```ts
 * const { devices } = await detectGpus();
 * ```
 */
export const detectGpus = (): Promise<GpuInventory> =>
  new Promise((resolve) => {
    execFile("nvidia-smi", ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"], { timeout: NVIDIA_SMI_TIMEOUT_MS }, (err, stdout) => {
      resolve(err ? { devices: [], simulated: false } : parseNvidiaSmi(stdout));
    });
  });

/** Device nodes a container granted `indices` needs on a real GPU node (only those that exist). */
export const gpuDeviceNodes = (indices: ReadonlyArray<number>, exists: (path: string) => boolean = existsSync): string[] =>
  [...indices.map((i) => `/dev/nvidia${i}`), "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"].filter((p) => exists(p));
