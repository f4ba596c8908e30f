// The app bench/edge.ts deploys: one public GET endpoint that answers a tiny JSON body, with room
// for every one of the bench's connections at once in one container (maxInputs 32), so the figures
// measure the path, not queueing: one container against one bare Node process. `--containers N`
// (FERRY_BENCH_EDGE_CONTAINERS, read when the app is deployed) keeps N warm instead.
import { App } from "ferry";

export const app = new App("bench-edge");

const containers = Number(globalThis.process?.env.FERRY_BENCH_EDGE_CONTAINERS ?? 1);

export const hello = app.endpoint({ method: "GET", auth: "none", maxInputs: 32, minContainers: containers }, () => Response.json({ ok: true }));
