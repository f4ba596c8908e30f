/**
 * What each image step does, as data (pure): its log label, the shell it runs, whether it needs
 * the network, and which host inputs feed its cache key.
 */
import type { ImageStep } from "@ferry/core";
import { posix } from "node:path";
import { ImageSpecError } from "./build-errors.ts";

/** Where npm installs when no `workdir` came before: /app/node_modules. */
export const DEFAULT_NPM_DIR = "/app";
/** Where a runFunction step finds the app's bundle and its driver script. */
export const BUILD_INPUT_DIR = "/ferry-build";

/** A step, planned. */
export type StepPlan =
  | { readonly kind: "meta"; readonly label: string }
  | { readonly kind: "copy"; readonly label: string; readonly local: string; readonly localKind: "dir" | "file"; readonly remote: string; readonly skipNpm?: boolean }
  | {
    readonly kind: "run"; readonly label: string; readonly command: string; readonly network: boolean;
    /** An npm ci step's project directory on the host. */
    readonly npmProject?: string;
    /** Where an npm step installs in the image (its node_modules is there). */
    readonly npmDir?: string;
    readonly runFunction?: string;
  };

/** Quote one word for /bin/sh (pure). */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_@%+=:,./^~-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`);

const absolute = (path: string, what: string): string => {
  if (!path.startsWith("/")) throw new ImageSpecError(`${what} "${path}" must be an absolute path inside the image (e.g. "/app")`);
  return posix.normalize(path);
};

const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const APT_NAME = /^[a-z0-9][a-z0-9+.:=~-]*$/;

/**
 * Plan one step. `workdir` is the working directory in effect before it.
 *
 * @example
 * ```ts
 * planStep({ kind: "runCommands", commands: ["echo hi"] }, "/").label; // "RUN echo hi"
 * ```
 */
export const planStep = (step: ImageStep, workdir: string): StepPlan => {
  switch (step.kind) {
    case "env":
      return { kind: "meta", label: `ENV ${Object.keys(step.vars).map((k) => `${k}=…`).join(" ")}` };
    case "workdir":
      return { kind: "meta", label: `WORKDIR ${absolute(step.path, "workdir")}` };
    case "addLocalDir":
    case "addLocalFile":
      return { kind: "copy", label: `COPY ${step.local} ${step.remote}`, local: step.local, localKind: step.kind === "addLocalDir" ? "dir" : "file", remote: absolute(step.remote, `${step.kind} remote path`) };
    case "runCommands":
      if (step.commands.length === 0) throw new ImageSpecError("runCommands needs at least one command");
      return { kind: "run", label: `RUN ${step.commands.join(" && ")}`, command: `set -e\n${step.commands.join("\n")}`, network: true };
    case "aptInstall": {
      const bad = step.packages.find((p) => !APT_NAME.test(p));
      if (bad !== undefined) throw new ImageSpecError(`aptInstall: "${bad}" is not a Debian package name`);
      if (step.packages.length === 0) throw new ImageSpecError("aptInstall needs at least one package");
      const pkgs = step.packages.join(" ");
      return {
        kind: "run", label: `APT ${pkgs}`, network: true,
        command: `set -e\nexport DEBIAN_FRONTEND=noninteractive\napt-get -o APT::Sandbox::User=root update\napt-get -o APT::Sandbox::User=root install -y --no-install-recommends ${pkgs}\nrm -rf /var/lib/apt/lists/*`,
      };
    }
    case "npmInstall": {
      const dir = workdir === "/" ? DEFAULT_NPM_DIR : workdir;
      const flags = "--no-audit --no-fund --no-update-notifier";
      if (step.lockfile !== undefined) {
        const project = posix.dirname(step.lockfile);
        return { kind: "run", label: `NPM ci ${step.lockfile}`, network: true, npmProject: project, npmDir: dir, command: `set -e\ncd ${shellQuote(dir)}\nnpm ci ${flags}` };
      }
      const deps = Object.entries(step.dependencies ?? {});
      if (deps.length === 0) throw new ImageSpecError("npmInstall needs packages ({ name: version }) or { lockfile }");
      const bad = deps.find(([name]) => !NPM_NAME.test(name));
      if (bad) throw new ImageSpecError(`npmInstall: "${bad[0]}" is not an npm package name`);
      const specs = deps.map(([name, range]) => shellQuote(`${name}@${range}`)).join(" ");
      return { kind: "run", label: `NPM install ${deps.map(([n, r]) => `${n}@${r}`).join(" ")}`, network: true, npmDir: dir, command: `set -e\nmkdir -p ${shellQuote(dir)}\ncd ${shellQuote(dir)}\nnpm install ${flags} ${specs}` };
    }
    case "runFunction":
      return { kind: "run", label: `FUNCTION ${step.function}`, network: true, runFunction: step.function, command: `exec node ${BUILD_INPUT_DIR}/run-function.mjs ${shellQuote(step.function)}` };
  }
};

/** Environment variable naming (colon-separated) the npm directories earlier steps installed into. */
export const BUILD_NPM_DIRS_ENV = "FERRY_IMAGE_NPM_DIRS";

/**
 * The driver a runFunction step runs: imports the app's bundle and calls the function locally.
 * The bundle leaves the image's npm packages out (bare imports): they resolve from the npm
 * directories of earlier steps, as in containers (gpu-agent/src/runner/image-packages.ts).
 */
export const RUN_FUNCTION_SCRIPT = `
const name = process.argv[2];
const npmDirs = (process.env.${BUILD_NPM_DIRS_ENV} ?? "").split(":").filter((d) => d.startsWith("/"));
if (npmDirs.length > 0) {
  const { createRequire, registerHooks } = await import("node:module");
  const notFound = (e) => e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND";
  let inner = false;
  registerHooks({
    resolve(specifier, context, next) {
      try { return next(specifier, context); } catch (e) {
        if (inner || !notFound(e) || /^[./]|^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier)) throw e;
        for (const d of npmDirs) {
          const parentURL = "file://" + d.replace(/\\/+$/, "") + "/";
          inner = context.conditions.includes("require");
          try { return inner ? { url: "file://" + createRequire(parentURL).resolve(specifier), shortCircuit: true } : next(specifier, { ...context, parentURL }); }
          catch (again) { if (!notFound(again)) throw again; }
          finally { inner = false; }
        }
        throw e;
      }
    },
  });
}
const mod = await import("${BUILD_INPUT_DIR}/app.mjs");
const FN = Symbol.for("ferry.function"), APP = Symbol.for("ferry.app");
let fn;
for (const [k, v] of Object.entries(mod)) if (v && typeof v === "object" && FN in v && (v.name ?? k) === name) fn = v;
if (!fn) for (const v of Object.values(mod)) if (v && typeof v === "object" && APP in v) fn = v.functions().find((f) => f.name === name) ?? fn;
if (!fn) { console.error("runFunction: no function named " + name + " in the app's module"); process.exit(2); }
const out = await fn.local();
if (out !== undefined) console.log(typeof out === "string" ? out : JSON.stringify(out));
`;
