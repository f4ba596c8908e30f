/**
 * The native image builder: no Docker daemon. Each step runs in a bubblewrap sandbox over a
 * fresh copy of the layers below it; what it changed becomes its layer (see layer-fs.ts), cached
 * under its key (see cache-key.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ImageSpec, ImageStep } from "@ferry/core";
import { resolveBase } from "./base-images.ts";
import { BuildStepError, BuildTimeoutError, ImageSpecError } from "./build-errors.ts";
import type { BuiltImage, ImageLayer, ImageMount } from "./built-image.ts";
import { stepKey } from "./cache-key.ts";
import { applyLayer, snapshotTree, writeLayerDiff } from "./layer-fs.ts";
import { checkLocalInput, copyLocalInput, hashLocalInput, NPM_PROJECT_SKIP } from "./local-inputs.ts";
import { BUILD_INPUT_DIR, BUILD_NPM_DIRS_ENV, DEFAULT_NPM_DIR, planStep, RUN_FUNCTION_SCRIPT, type StepPlan } from "./step-plan.ts";
import { BUILD_PATH, runStep, SANDBOX_MOUNT_PATHS, type BaseEntry } from "./step-sandbox.ts";

/** Default limit on a whole build. */
export const DEFAULT_BUILD_TIMEOUT_S = 3600;

/** Options of `buildImage`. */
export interface BuildOptions {
  /** Build cache: layers under `<cacheDir>/layers/<key>`, scratch roots under `<cacheDir>/work`. */
  readonly cacheDir: string;
  /** Rebuild every step, ignoring cached layers (the base is kept). */
  readonly force?: boolean;
  /** Stop the build after this many seconds (default DEFAULT_BUILD_TIMEOUT_S). */
  readonly timeoutS?: number;
  /** Log lines: progress (`[2/5] RUN …`, `[2/5] CACHED …`) and the steps' output. */
  readonly onLog?: (line: string) => void;
  /** A self-contained ESM bundle of the app (what `ferry deploy` ships), for `runFunction` steps. */
  readonly appModule?: string;
  /** Give steps the host's network (package downloads); default true. */
  readonly network?: boolean;
}

const sha256File = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The content hash of a step's host inputs ("" when it has none). */
const inputsHash = (plan: StepPlan, appModule: string | undefined): string => {
  if (plan.kind === "copy") return hashLocalInput(plan.local, plan.localKind);
  if (plan.kind === "run" && plan.npmProject !== undefined) return hashLocalInput(plan.npmProject, "dir", NPM_PROJECT_SKIP);
  if (plan.kind === "run" && plan.runFunction !== undefined) {
    if (appModule === undefined) throw new ImageSpecError(`runFunction(${plan.runFunction}) needs the app's bundle: build with \`ferry image build FILE\` (or pass appModule)`);
    return sha256File(appModule);
  }
  return "";
};

const isMount = (s: ImageStep): s is Extract<ImageStep, { kind: "addLocalDir" | "addLocalFile" }> =>
  (s.kind === "addLocalDir" || s.kind === "addLocalFile") && !s.copy;

/**
 * Build `spec`: resolve its base, then each step from the cache or by running it. Throws
 * BuildStepError (command, exit code, log tail), BuildTimeoutError, LocalInputError or ImageSpecError.
 *
 * @example
 * ```ts
 * const built = await buildImage(Image.base("ferry/node").runCommands("echo hi > /hi").toSpec(), { cacheDir, onLog: console.log });
 * ```
 */
export const buildImage = async (spec: ImageSpec, options: BuildOptions): Promise<BuiltImage> => {
  const log = options.onLog ?? (() => {});
  const timeoutMs = (options.timeoutS ?? DEFAULT_BUILD_TIMEOUT_S) * 1000;
  const deadline = Date.now() + timeoutMs;
  const layersDir = join(options.cacheDir, "layers");
  const workDir = join(options.cacheDir, "work");
  mkdirSync(layersDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });

  const mounts: ImageMount[] = [];
  for (const s of spec.steps.filter(isMount)) {
    const kind = s.kind === "addLocalDir" ? "dir" : "file";
    checkLocalInput(s.local, kind);
    if (!s.remote.startsWith("/")) throw new ImageSpecError(`${s.kind} remote path "${s.remote}" must be absolute`);
    mounts.push({ kind, local: s.local, remote: s.remote });
  }
  const chain = spec.steps.filter((s) => !isMount(s));
  const firstMount = spec.steps.findIndex(isMount);
  if (firstMount >= 0 && spec.steps.slice(firstMount).some((s) => !isMount(s) && s.kind !== "env" && s.kind !== "workdir")) {
    throw new ImageSpecError("a build step follows a local file mounted at start (copy: false); pass { copy: true } or move it after the build steps");
  }

  const base = await resolveBase(spec.base, layersDir, log);
  const env: Record<string, string> = { ...base.env };
  let workdir = base.workdir ?? "/";
  let parentKey = base.key;
  const layers: ImageLayer[] = [...base.layers];
  const npmDirs: string[] = [];
  const total = chain.length;
  for (const [i, step] of chain.entries()) {
    const tag = `[${i + 1}/${total}]`;
    const plan = planStep(step, workdir);
    const key = stepKey(parentKey, step, inputsHash(plan, options.appModule));
    parentKey = key;
    if (plan.kind === "run" && plan.npmDir !== undefined && !npmDirs.includes(plan.npmDir)) npmDirs.push(plan.npmDir);
    if (step.kind === "env") Object.assign(env, step.vars);
    if (step.kind === "workdir") workdir = step.path;
    if (plan.kind === "meta") {
      log(`${tag} ${plan.label}`);
      continue;
    }
    const dir = join(layersDir, key);
    const layer: ImageLayer = { key, dir: join(dir, "diff"), createdBy: plan.label };
    if (!options.force && existsSync(join(dir, "meta.json"))) {
      log(`${tag} CACHED ${plan.label}`);
      layers.push(layer);
      continue;
    }
    if (Date.now() >= deadline) throw new BuildTimeoutError(`${tag} ${plan.label}`, timeoutMs);
    log(`${tag} ${plan.label}`);
    const started = Date.now();
    const counts = await buildLayer(plan, {
      layers, entries: base.entries, env: { ...base.stepEnv, ...env }, workdir, workDir, dir, key, deadline, tag, timeoutMs, log, appModule: options.appModule, network: options.network ?? true,
      // The app's bundle imports the image's npm packages by name (a runFunction step): from where the earlier steps installed them.
      npmDirs: [...npmDirs],
    });
    log(`${tag} done in ${((Date.now() - started) / 1000).toFixed(1)} s (${counts.changed} changed, ${counts.deleted} deleted)`);
    layers.push(layer);
  }
  return { key: parentKey, base: spec.base, baseEntries: base.entries, layers, env, workdir, mounts, root: base.root, npmDirs };
};

interface LayerJob {
  readonly layers: ReadonlyArray<ImageLayer>;
  readonly entries: ReadonlyArray<BaseEntry>;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly workDir: string;
  readonly dir: string;
  readonly key: string;
  readonly deadline: number;
  readonly tag: string;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
  readonly appModule: string | undefined;
  readonly network: boolean;
  readonly npmDirs: ReadonlyArray<string>;
}

/** Create the base's mount points before the "before" snapshot, so bwrap's own mkdirs never show up in a layer. */
const prepareMountPoints = (root: string, entries: ReadonlyArray<BaseEntry>): void => {
  for (const e of entries) {
    const at = join(root, e.sandboxPath);
    mkdirSync(dirname(at), { recursive: true });
    // bwrap 0.8 refuses to make a symlink over an existing one: it makes those itself (excluded paths).
    if ("symlinkTo" in e || existsSync(at) || isLink(at)) continue;
    if (statSync(e.hostPath).isDirectory()) mkdirSync(at);
    else writeFileSync(at, "");
  }
};

const isLink = (path: string): boolean => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/** Run one step over a fresh root and store what it changed as the layer `job.dir`. */
const buildLayer = async (plan: Exclude<StepPlan, { kind: "meta" }>, job: LayerJob): Promise<{ changed: number; deleted: number }> => {
  const scratch = mkdtempSync(join(job.workDir, "step-"));
  const root = join(scratch, "root");
  try {
    mkdirSync(root, { recursive: true });
    const excluded = new Set<string>([...SANDBOX_MOUNT_PATHS, ...job.entries.map((e) => e.sandboxPath.slice(1))]);
    // A COPY never reads the layers below: its layer is just the copied files.
    if (plan.kind === "run") for (const layer of job.layers) applyLayer(layer.dir, root);
    prepareMountPoints(root, job.entries);
    const before = snapshotTree(root, excluded);
    if (plan.kind === "copy") copyLocalInput(plan.local, plan.localKind, join(root, plan.remote));
    else {
      if (plan.npmProject !== undefined) {
        copyLocalInput(plan.npmProject, "dir", join(root, plan.npmDir ?? DEFAULT_NPM_DIR), NPM_PROJECT_SKIP);
      }
      const inputs: Array<{ hostPath: string; sandboxPath: string }> = [];
      if (plan.runFunction !== undefined && job.appModule !== undefined) {
        writeFileSync(join(scratch, "run-function.mjs"), RUN_FUNCTION_SCRIPT);
        inputs.push({ hostPath: job.appModule, sandboxPath: `${BUILD_INPUT_DIR}/app.mjs` }, { hostPath: join(scratch, "run-function.mjs"), sandboxPath: `${BUILD_INPUT_DIR}/run-function.mjs` });
      }
      const result = await runStep({
        root, base: job.entries, inputs, argv: ["/bin/sh", "-c", plan.command],
        env: { PATH: BUILD_PATH, HOME: "/root", npm_config_cache: "/tmp/.npm", ...(job.npmDirs.length > 0 ? { [BUILD_NPM_DIRS_ENV]: job.npmDirs.join(":") } : {}), ...job.env },
        cwd: job.workdir, network: plan.network && job.network, timeoutMs: Math.max(1, job.deadline - Date.now()), onLine: job.log,
      });
      if (result.timedOut) throw new BuildTimeoutError(`${job.tag} ${plan.label}`, job.timeoutMs);
      if (result.exitCode !== 0) throw new BuildStepError(`${job.tag} ${plan.label}`, plan.command.replace(/^set -e\n/, "").replaceAll("\n", "; "), result.exitCode, result.tail);
    }
    const after = snapshotTree(root, excluded);
    const tmp = join(scratch, "layer");
    const counts = writeLayerDiff(root, before, after, join(tmp, "diff"));
    writeFileSync(join(tmp, "meta.json"), JSON.stringify({ key: job.key, createdBy: plan.label, builtAt: Date.now(), ...counts }));
    rmSync(job.dir, { recursive: true, force: true });
    renameSync(tmp, job.dir);
    return counts;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
};

/**
 * Materialise a built image's layers into `dir` (its root file system, less the base's host binds).
 *
 * @example
 * ```ts
 * flattenImage(built, "/tmp/rootfs");
 * ```
 */
export const flattenImage = (image: Pick<BuiltImage, "layers">, dir: string): void => {
  mkdirSync(dir, { recursive: true });
  for (const layer of image.layers) applyLayer(layer.dir, dir);
};
