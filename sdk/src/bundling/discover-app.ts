import { App } from "../app.ts";
import { FerryFunction } from "../functions/function-handle.ts";
import { manifestOptions, type FunctionOptions } from "../functions/function-options.ts";

export interface DiscoveredApp {
  readonly app: App;
  /** Every function with its final name, as deployed. */
  readonly functions: ReadonlyArray<{ readonly name: string; readonly handle: FerryFunction<never[], unknown>; readonly options: Omit<FunctionOptions, "name"> }>;
}

/**
 * Find the app a module exports and name its functions: a function's name is its export name
 * unless `options.name` says otherwise. Unnamed functions and duplicate names are errors.
 */
export const discoverApp = (mod: Record<string, unknown>, file: string): DiscoveredApp => {
  const apps = Object.values(mod).filter((v): v is App => v instanceof App);
  const unique = [...new Set(apps)];
  if (unique.length === 0) throw new Error(`${file} exports no App: add \`export const app = new App("name")\``);
  if (unique.length > 1) throw new Error(`${file} exports ${unique.length} apps (${unique.map((a) => a.name).join(", ")}); export exactly one`);
  const app = unique[0];
  for (const [exportName, value] of Object.entries(mod)) {
    if (value instanceof FerryFunction && value.name === undefined) value.name = exportName;
  }
  const byName = new Map<string, FerryFunction<never[], unknown>>();
  const functions = app.functions().map((handle, i) => {
    if (!handle.name) throw new Error(`function #${i + 1} of app ${app.name} is neither exported nor named: export it, or pass options.name`);
    if (byName.has(handle.name) && byName.get(handle.name) !== handle) throw new Error(`app ${app.name} has two functions named ${handle.name}`);
    byName.set(handle.name, handle);
    return { name: handle.name, handle, options: manifestOptions(handle.options) };
  });
  if (functions.length === 0) throw new Error(`app ${app.name} has no functions: wrap one with app.function(options, fn)`);
  return { app, functions };
};
