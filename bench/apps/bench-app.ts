// The app the benchmarks deploy: the smallest possible functions, so the figures measure the platform.
import { App } from "ferry";

export const app = new App("bench");

export const noop = app.function({}, () => null);

export const inc = app.function({}, (x: number) => x + 1);
