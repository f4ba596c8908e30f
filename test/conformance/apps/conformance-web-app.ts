// A web endpoint the runtime-conformance suite serves through each runtime's edge.
import { App } from "ferry";

export const app = new App("conformance-web");

/** Echoes the method, the query and the body it got. */
export const echo = app.endpoint({ method: "POST" }, async (req) =>
  Response.json({ method: req.method, q: new URL(req.url).searchParams.get("q"), body: await req.text() }, { headers: { "x-handler": "echo" } }));
