import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ImageSpec } from "@ferry/core";
import { build, type Plugin } from "esbuild";
import { discoverApp } from "./discover-app.ts";
import { externalPatterns, imagePackageNames, stubMissingPackages, uncoveredSpecifiers } from "./image-packages.ts";

/** The SDK's own entry: a user's `import "ferry"` resolves here in both bundles. */
const SDK_ENTRY = fileURLToPath(new URL("../index.ts", import.meta.url));

/** `import "ferry"`: bundled in (for containers) or kept as this SDK instance (for the CLI). */
const ferryResolver = (mode: "bundle" | "shared"): Plugin => ({
  name: "ferry-sdk",
  setup(b) {
    b.onResolve({ filter: /^ferry$/ }, () =>
      mode === "bundle" ? { path: SDK_ENTRY } : { path: pathToFileURL(SDK_ENTRY).href, external: true });
  },
});

const BUILD_DEFAULTS = {
  bundle: true, platform: "node", format: "esm", target: "node22", write: false, logLevel: "silent",
  // Packages that ship native code or read files next to themselves cannot be bundled; an image
  // with them installed arrives with the image builder.
  banner: { js: "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);" },
} as const;

export interface AppBundle {
  /** The ESM bundle shipped to containers, SDK included. */
  readonly code: Uint8Array;
  readonly sha256: string;
  /**
   * The user's files the bundle was built from (absolute paths; packages under node_modules and
   * the SDK itself left out): what `ferry serve` watches.
   */
  readonly inputs: ReadonlyArray<string>;
  /** A module URL to import in this process: the same app, sharing this process's SDK. */
  readonly localModuleUrl: string;
  /** Removes the local module's temporary files. */
  dispose(): Promise<void>;
}

/**
 * Bundle a user's app file with esbuild, twice: once importable here with `ferry` resolved to
 * this SDK so the CLI sees the app's real handles (imported once here, to learn the app's
 * images), then self-contained for containers, less the packages the images' `npmInstall`
 * provides (containers resolve those from the image; see image-packages.ts). A package missing
 * locally is fine when an image provides it; otherwise bundling fails naming it.
 *
 * @example
 * ```ts
 * const bundle = await bundleApp("examples/hello.ts");
 * const mod = await import(bundle.localModuleUrl);
 * ```
 */
export const bundleApp = async (file: string): Promise<AppBundle> => {
  const entry = resolve(file);
  const unresolved = new Set<string>();
  const local = await bundling(file, () => build({ ...BUILD_DEFAULTS, entryPoints: [entry], plugins: [ferryResolver("shared"), stubMissingPackages(unresolved)], outfile: "app.mjs" }));
  const dir = await mkdtemp(join(tmpdir(), "ferry-app-"));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const localPath = join(dir, "app.mjs");
    await writeFile(localPath, local.outputFiles[0].contents);
    const localModuleUrl = pathToFileURL(localPath).href;
    const packages = imagePackageNames(await appImages(localModuleUrl, file));
    const missing = uncoveredSpecifiers(unresolved, packages);
    if (missing.length > 0) {
      throw new Error(`cannot bundle ${file}: could not resolve ${missing.map((m) => `"${m}"`).join(", ")}: install ${missing.length === 1 ? "it" : "them"} (npm install), or add ${missing.length === 1 ? "it" : "them"} to the image's npmInstall`);
    }
    const shipped = await bundling(file, () => build({
      ...BUILD_DEFAULTS, entryPoints: [entry], plugins: [ferryResolver("bundle")], outfile: "app.mjs", metafile: true, external: externalPatterns(packages),
    }));
    const code = shipped.outputFiles[0].contents;
    return {
      code,
      sha256: createHash("sha256").update(code).digest("hex"),
      inputs: userInputs(entry, shipped.metafile?.inputs ?? {}),
      localModuleUrl,
      dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
};

/** Run an esbuild build, its first error as "cannot bundle FILE: where: what". */
const bundling = async <R>(file: string, run: () => Promise<R>): Promise<R> => {
  try {
    return await run();
  } catch (e) {
    const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
    if (errors?.length) {
      const first = errors[0];
      const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : "";
      throw new Error(`cannot bundle ${file}: ${where}${first.text}`);
    }
    throw e;
  }
};

/** The image specs of the app a local module exports (none when it exports no usable app: the caller's discovery says why). */
const appImages = async (moduleUrl: string, file: string): Promise<ImageSpec[]> => {
  const mod = (await import(moduleUrl)) as Record<string, unknown>;
  let found: ReturnType<typeof discoverApp>;
  try {
    found = discoverApp(mod, file);
  } catch {
    return [];
  }
  return found.functions.flatMap((f) => (f.options.image === undefined ? [] : [f.options.image as ImageSpec]));
};

/** The SDK's own folder: its files are not the user's to watch. */
const SDK_DIR = dirname(dirname(SDK_ENTRY));

/**
 * The user's own files among esbuild's metafile inputs (paths relative to the working
 * directory): those reached from the entry without passing through a package or the SDK.
 */
const userInputs = (entry: string, inputs: Readonly<Record<string, { readonly imports: ReadonlyArray<{ readonly path: string }> }>>): string[] => {
  const own = (p: string) => !p.includes(`${sep}node_modules${sep}`) && !p.startsWith(`${SDK_DIR}${sep}`);
  const byPath = new Map(Object.entries(inputs).map(([p, v]) => [resolve(p), v]));
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const p = queue.pop()!;
    if (seen.has(p) || !own(p) || !byPath.has(p)) continue;
    seen.add(p);
    for (const i of byPath.get(p)!.imports) queue.push(resolve(i.path));
  }
  return [...seen];
};
