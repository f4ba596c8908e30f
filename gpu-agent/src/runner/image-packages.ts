/**
 * Bare imports of packages an image's `npmInstall` provides. `ferry deploy` leaves them out of the
 * bundle (see sdk/src/bundling/image-packages.ts), so the bundle at /opt/ferry/app imports "ms"
 * by name; Node looks for it beside the bundle and finds nothing. A synchronous resolve hook
 * retries such a specifier from each of the image's npm directories (/app, or wherever the step
 * installed), for `import`, `await import()` and `require` alike.
 */
import { createRequire, registerHooks, type ResolveFnOutput, type ResolveHookContext } from "node:module";
import { pathToFileURL } from "node:url";

/** Environment variable the agent passes the image's npm directories in (colon-separated); the runner removes it. */
export const IMAGE_NPM_DIRS_ENV = "FERRY_IMAGE_NPM_DIRS";

type NextResolve = (specifier: string, context?: Partial<ResolveHookContext>) => ResolveFnOutput;

/** Not found, as `import` (ERR_MODULE_NOT_FOUND) and `require` (MODULE_NOT_FOUND) say it. */
const NOT_FOUND = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]);

/** A package name, maybe with a subpath: not relative, not absolute, no URL scheme ("node:", "file:"). */
export const isBareSpecifier = (specifier: string): boolean =>
  specifier !== "" && !specifier.startsWith(".") && !specifier.startsWith("/") && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier);

/**
 * The parent URLs a bare specifier is retried from, one per npm directory: resolving from
 * `<dir>/` searches `<dir>/node_modules` (then its parents'), as a module in `<dir>` would.
 *
 * @example
 * ```ts
 * imageParentUrls(["/app"]); // ["file:///app/"]
 * ```
 */
export const imageParentUrls = (dirs: ReadonlyArray<string>): string[] =>
  dirs.map((d) => pathToFileURL(`${d.replace(/\/+$/, "")}/`).href);

/**
 * Install the hook for `dirs` (nothing when empty). A specifier that resolves normally is never
 * touched; one that is not found is tried from each directory in order, and the first error is
 * rethrown when none has it.
 *
 * @example
 * ```ts
 * installImagePackageResolution(["/app"]);
 * await import("ms"); // /app/node_modules/ms
 * ```
 */
export const installImagePackageResolution = (dirs: ReadonlyArray<string>): void => {
  if (dirs.length === 0) return;
  const parents = imageParentUrls(dirs);
  // require() ignores a changed parentURL: it resolves from a require rooted in each directory
  // instead, whose own lookups come back through this hook (and must then pass straight through).
  const requires = dirs.map((d) => createRequire(`${d.replace(/\/+$/, "")}/`));
  let inner = false;
  const fromImage = (specifier: string, context: ResolveHookContext, next: NextResolve): ResolveFnOutput | undefined => {
    for (const [i, parentURL] of parents.entries()) {
      try {
        if (!context.conditions.includes("require")) return next(specifier, { ...context, parentURL });
        inner = true;
        try {
          return { url: pathToFileURL(requires[i]!.resolve(specifier)).href, shortCircuit: true };
        } finally {
          inner = false;
        }
      } catch (again) {
        if (!NOT_FOUND.has((again as { code?: string }).code ?? "")) throw again;
      }
    }
    return undefined;
  };
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (e) {
        if (inner || !isBareSpecifier(specifier) || !NOT_FOUND.has((e as { code?: string }).code ?? "")) throw e;
        const found = fromImage(specifier, context, nextResolve);
        if (found === undefined) throw e;
        return found;
      }
    },
  });
};

/**
 * Read (and remove, so user code and its children never see it) the directories the agent passed.
 *
 * @example
 * ```ts
 * installImagePackageResolution(takeImageNpmDirs(process.env));
 * ```
 */
export const takeImageNpmDirs = (env: NodeJS.ProcessEnv): string[] => {
  const value = env[IMAGE_NPM_DIRS_ENV];
  delete env[IMAGE_NPM_DIRS_ENV];
  return (value ?? "").split(":").filter((d) => d.startsWith("/"));
};
