/**
 * Packages an app imports that its image's `npmInstall` provides. The user need not have them
 * installed locally: `ferry deploy` leaves them out of the container bundle (so the image's own
 * copy is what runs, resolved by the runner from the image's npm directory), and the local module
 * the CLI imports gets a stand-in that throws when used (the package only exists in containers).
 */
import { readFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import type { ImageSpec } from "@ferry/core";
import type { Plugin } from "esbuild";

const STUB_NAMESPACE = "ferry-image-package";
/** Marks the plugin's own resolve call, so it does not recurse. */
const SKIP = "ferryImagePackageProbe";

/**
 * The package a bare specifier names: "ms" → "ms", "lodash/fp" → "lodash", "@a/b/c" → "@a/b";
 * undefined for a relative or absolute path, a URL or a Node builtin.
 *
 * @example
 * ```ts
 * packageNameOf("@scope/pkg/sub"); // "@scope/pkg"
 * ```
 */
export const packageNameOf = (specifier: string): string | undefined => {
  if (specifier === "" || specifier.startsWith(".") || specifier.startsWith("/") || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier) || isBuiltin(specifier)) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
};

/** The dependency names a `{ lockfile }` npmInstall step installs: its package.json's dependencies. */
const lockfileDependencies = (packageJson: string): string[] => {
  try {
    const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  } catch {
    // The build reports a missing or broken package.json, with the step it belongs to.
    return [];
  }
};

/**
 * Every package the `npmInstall` steps of `images` install (sorted, each once).
 *
 * @example
 * ```ts
 * imagePackageNames([Image.debianSlim().npmInstall({ ms: "2.1.3" }).toSpec()]); // ["ms"]
 * ```
 */
export const imagePackageNames = (images: ReadonlyArray<ImageSpec>): string[] => {
  const names = new Set<string>();
  for (const image of images) {
    for (const step of image.steps) {
      if (step.kind !== "npmInstall") continue;
      for (const name of step.dependencies ? Object.keys(step.dependencies) : step.packageJson ? lockfileDependencies(step.packageJson) : []) names.add(name);
    }
  }
  return [...names].sort();
};

/** esbuild `external` patterns for packages: each name and its subpaths. */
export const externalPatterns = (names: ReadonlyArray<string>): string[] => names.flatMap((n) => [n, `${n}/*`]);

/** What the stand-in of a package missing locally does: loads fine, throws when used. */
const stubSource = (specifier: string): string => `
const message = ${JSON.stringify(`package "${specifier}" is not installed here: it comes from the image's npmInstall, so it can be used inside containers only (install it locally to use it in f.local())`)};
const fail = () => { throw new Error(message); };
module.exports = new Proxy(function () {}, {
  get: (_t, p) => (typeof p === "symbol" || p === "__esModule" || p === "then" ? undefined : fail()),
  apply: fail,
  construct: fail,
});
`;

/**
 * An esbuild plugin for the module the CLI imports: a bare import that does not resolve here
 * becomes a stand-in (see stubSource) and its specifier is added to `unresolved`, so the caller
 * can check it against the image's packages once the app is known.
 *
 * @example
 * ```ts
 * const unresolved = new Set<string>();
 * await build({ entryPoints: [entry], bundle: true, plugins: [stubMissingPackages(unresolved)] });
 * ```
 */
export const stubMissingPackages = (unresolved: Set<string>): Plugin => ({
  name: "ferry-missing-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if ((args.pluginData as Record<string, unknown> | undefined)?.[SKIP] || packageNameOf(args.path) === undefined) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { [SKIP]: true } });
      if (r.errors.length === 0) return r;
      unresolved.add(args.path);
      return { path: args.path, namespace: STUB_NAMESPACE };
    });
    b.onLoad({ filter: /.*/, namespace: STUB_NAMESPACE }, (args) => ({ contents: stubSource(args.path), loader: "js" }));
  },
});

/**
 * The specifiers of `unresolved` that no package of the image provides (pure).
 *
 * @example
 * ```ts
 * uncoveredSpecifiers(["ms", "left-pad"], ["ms"]); // ["left-pad"]
 * ```
 */
export const uncoveredSpecifiers = (unresolved: Iterable<string>, imagePackages: ReadonlyArray<string>): string[] =>
  [...unresolved].filter((s) => !imagePackages.includes(packageNameOf(s) ?? s)).sort();
