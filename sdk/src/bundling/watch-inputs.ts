import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

/** Saves closer together than this are one change (editors write a file in several steps). */
export const WATCH_DEBOUNCE_MS = 150;

/** Watches a set of files; `update` replaces the set (a rebundle may import new files). */
export interface InputWatcher {
  update(files: ReadonlyArray<string>): void;
  close(): void;
}

/**
 * Call `onChange` after any of `files` is saved, created, replaced or removed, once per burst of
 * saves. Folders are watched rather than files, so an editor that saves by replacing the file
 * (write to a temporary, rename over) is still seen.
 *
 * @example
 * ```ts
 * const watcher = watchInputs(bundle.inputs, () => void redeploy());
 * watcher.close();
 * ```
 */
export const watchInputs = (files: ReadonlyArray<string>, onChange: () => void): InputWatcher => {
  const watchers = new Map<string, FSWatcher>();
  let names = new Map<string, Set<string>>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, WATCH_DEBOUNCE_MS);
  };
  const update = (next: ReadonlyArray<string>) => {
    names = new Map();
    for (const f of next) {
      const dir = dirname(f);
      if (!names.has(dir)) names.set(dir, new Set());
      names.get(dir)!.add(basename(f));
    }
    for (const [dir, w] of watchers) {
      if (names.has(dir)) continue;
      w.close();
      watchers.delete(dir);
    }
    for (const dir of names.keys()) {
      if (watchers.has(dir)) continue;
      const w = watch(dir, { persistent: true }, (_event, name) => {
        if (name === null || names.get(dir)?.has(String(name))) changed();
      });
      w.on("error", () => undefined);
      watchers.set(dir, w);
    }
  };
  update(files);
  return {
    update,
    close: () => {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
};
