// The app bench/edge.ts deploys: one public GET endpoint that answers a tiny JSON body, with room
// for many requests at once in one container so the figures measure the path, not queueing.
import { App } from "ferry";

export const app = new App("bench-edge");

export const hello = app.endpoint({ method: "GET", auth: "none", maxInputs: 32, minContainers: 4 }, () => Response.json({ ok: true }));
