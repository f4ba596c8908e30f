import type { ImageSpec } from "@ferry/core";
import { App } from "../app.ts";
import { isImage } from "../images/image.ts";
import { FerryCls } from "../classes/cls.ts";
import { FerryFunction } from "../functions/function-handle.ts";
import { manifestOptions, type FunctionOptions } from "../functions/function-options.ts";

/** One deployable unit of an app: a function, or a class (whose methods share its containers). */
export interface DiscoveredFunction {
  readonly name: string;
  readonly handle: FerryFunction<never[], unknown> | FerryCls;
  /** As deployed; a class's carry its `methods`. */
  readonly options: Omit<FunctionOptions, "name"> & { readonly methods?: ReadonlyArray<string> };
}

export interface DiscoveredApp {
  readonly app: App;
  /** Every function and class with its final name, as deployed. */
  readonly functions: ReadonlyArray<DiscoveredFunction>;
}

/**
 * Find the app a module exports and name its functions and classes: a name is the export name
 * unless `options.name` says otherwise. Unnamed ones and duplicate names are errors. A class
 * travels as one entry whose options list its `methods`.
 */
export const discoverApp = (mod: Record<string, unknown>, file: string): DiscoveredApp => {
  const apps = Object.values(mod).filter((v): v is App => v instanceof App);
  const unique = [...new Set(apps)];
  if (unique.length === 0) throw new Error(`${file} exports no App: add \`export const app = new App("name")\``);
  if (unique.length > 1) throw new Error(`${file} exports ${unique.length} apps (${unique.map((a) => a.name).join(", ")}); export exactly one`);
  const app = unique[0];
  const classes = app.classes();
  for (const [exportName, value] of Object.entries(mod)) {
    if (value instanceof FerryFunction && value.name === undefined) value.name = exportName;
    // Only the app's classes are deployable units; `Model.with(…)` instances are not.
    if (value instanceof FerryCls && classes.includes(value) && value.name === undefined) value.name = exportName;
  }
  const byName = new Map<string, unknown>();
  const named = (handle: FerryFunction<never[], unknown> | FerryCls, what: string, i: number): string => {
    if (!handle.name) throw new Error(`${what} #${i + 1} of app ${app.name} is neither exported nor named: export it, or pass options.name`);
    if (byName.has(handle.name) && byName.get(handle.name) !== handle) throw new Error(`app ${app.name} has two functions or classes named ${handle.name}`);
    byName.set(handle.name, handle);
    return handle.name;
  };
  // The app's image (`new App(name, { image })`) is the default of every function without its own.
  const appImage = app.options.image === undefined ? undefined : isImage(app.options.image) ? app.options.image.toSpec() : (app.options.image as ImageSpec);
  const withAppImage = <O extends { readonly image?: unknown }>(o: O): O => (o.image === undefined && appImage !== undefined ? { ...o, image: appImage } as O : o);
  const functions: DiscoveredFunction[] = app.functions().map((handle, i) => ({ name: named(handle, "function", i), handle, options: withAppImage(manifestOptions(handle.options)) }));
  classes.forEach((handle, i) => {
    functions.push({ name: named(handle, "class", i), handle, options: withAppImage({ ...manifestOptions(handle.options), methods: handle.methods }) });
  });
  if (functions.length === 0) throw new Error(`app ${app.name} has no functions: wrap one with app.function(options, fn) or a class with app.cls(options, class)`);
  return { app, functions };
};
