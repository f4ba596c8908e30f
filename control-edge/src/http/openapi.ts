import { storeOpenApiPaths } from "../routes/store-routes.ts";

const bearer = [{ bearer: [] }];
const json = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
const errors = {
  "400": json("invalid input: `error.field` names the field at fault"),
  "401": json("missing, malformed or revoked token"),
  "404": json("no such object in the caller's workspace"),
  "413": json("body or value over a named limit"),
};
const op = (summary: string, ok = "200", extra: Record<string, unknown> = {}) => ({ summary, responses: { [ok]: json(summary), ...errors, ...extra } });
const conflict = { "409": json("conflicts with the object's state") };
const unavailable = { "503": json("no region can serve it now") };
const endpointOp = (method: string) => ({
  summary: `A web endpoint or web app (${method}): the handler's own status, headers and streamed body`,
  description: "Served outside /v1: the rest of the path and the query go to the handler. auth \"none\" endpoints are public; auth \"token\" ones take a workspace token or an endpoint token as Bearer.",
  security: [{}, { bearer: [] }],
  parameters: ["workspace", "app", "function", "path"].map((name) => ({ name, in: "path", required: name !== "path", schema: { type: "string" } })),
  responses: {
    "200": { description: "the handler's response (any status, any content type, possibly streamed)" },
    "401": json("auth \"token\" endpoint without a valid workspace or endpoint token"),
    "404": json("no such workspace, app or function, the function is not an endpoint, or no endpoint at this path"),
    "405": json("the endpoint answers another method (Allow names it)"),
    "413": json("request body over maxEndpointBodyBytes"),
    "500": json("the handler threw (error name and message) or returned no Response"),
    "503": json("no region can serve it now"),
    "504": json("no response head within the function's timeout"),
  },
});
/** The public web endpoint route (not under /v1). */
const endpointOpenApiPaths = {
  "/{workspace}/{app}/{function}/{path}": Object.fromEntries(["get", "post", "put", "patch", "delete", "head", "options"].map((m) => [m, endpointOp(m.toUpperCase())])),
};

/** The `/v1` API as OpenAPI 3.1, served at `/v1/openapi.json`. */
export const openApiDocument = {
  openapi: "3.1.0",
  info: { title: "Ferry control edge", version: "1" },
  components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  security: bearer,
  paths: {
    "/v1/health": { get: { security: [], responses: { "200": json("edge is up") } } },
    "/v1/tokens": {
      get: { summary: "List tokens (never their secrets)", responses: { "200": json("tokens"), ...errors } },
      post: { summary: "Create a token; the secret is returned once", responses: { "201": json("token with secret"), ...errors } },
    },
    "/v1/tokens/{id}": { delete: { summary: "Revoke a token", responses: { "200": json("revoked"), ...errors } } },
    "/v1/apps": {
      get: { summary: "List apps", responses: { "200": json("apps"), ...errors } },
      post: { summary: "Deploy an app: bundle (base64 ESM) and function manifest", responses: { "201": json("app and function ids"), ...errors } },
    },
    "/v1/apps/{name}/stop": { post: { summary: "Stop an app and its containers", responses: { "200": json("stopped"), ...errors } } },
    "/v1/apps/{name}/logs": { get: { summary: "Server-sent events of the app's log lines; follow=1 to tail", responses: { "200": { description: "text/event-stream" }, ...errors } } },
    "/v1/functions/lookup": { get: { summary: "Find a deployed function by app and name", responses: { "200": json("function"), ...errors } } },
    "/v1/functions/{id}/calls": { post: { summary: "Create a call with one or more inputs; waitMs returns outputs inline", responses: { "200": json("call id, and outputs when waited for"), ...errors } } },
    "/v1/calls/{id}/inputs": { post: { summary: "Append a batch of inputs to an open call; close=true ends it", responses: { "200": json("accepted"), ...errors } } },
    "/v1/calls/{id}/outputs": { get: { summary: "NDJSON stream of the call's outputs as they finish", responses: { "200": { description: "application/x-ndjson" }, ...errors } } },
    "/v1/calls/{id}/cancel": { post: { summary: "Cancel a call", responses: { "200": json("cancelled"), ...errors } } },
    "/v1/usage": { get: op("Metered container-seconds, GPU-seconds and cost; since=7d, by=app,function,gpu,cloud,region") },
    "/v1/regions": { get: op("Regions with their health and latency from this edge (checked now), nearest first") },
    "/v1/gpu/market": { get: op("GPU capacity on offer per region: agents' free GPUs and providers' offers, with prices") },
    "/v1/classes/{id}/instances": { post: op("Create (or find) the instance of a class for with() parameters (value codec)", "201") },
    "/v1/secrets": { get: op("List secrets: names, variable names and times, never values"), post: op("Create or (force) replace a secret", "201", conflict) },
    "/v1/secrets/{name}": { delete: op("Delete a secret") },
    "/v1/volumes": { get: op("List volumes"), post: op("Create a volume", "201", conflict) },
    "/v1/volumes/{name}": { get: op("A volume's latest version"), delete: op("Delete a volume and its unreferenced blocks") },
    "/v1/volumes/{name}/list": { get: op("List a directory of the latest version") },
    "/v1/volumes/{name}/file": { get: op("Read a file of the latest version") },
    "/v1/volumes/{name}/blocks/missing": { post: op("Which of these block digests the store lacks") },
    "/v1/volumes/{name}/blocks/{digest}": { put: op("Upload one block (checked against its sha256)") },
    "/v1/volumes/{name}/commit": { post: op("Publish a new version: paths to digests") },
    "/v1/images/blocks/missing": { post: op("Which of these image block digests the region's store lacks") },
    "/v1/images/blocks/{digest}": { put: op("Upload one image block (checked against its sha256, at most imageChunkBytes)") },
    "/v1/images/{id}": { put: op("Publish an image index (its canonical encoding; every block it names must be stored)") },
    "/v1/volumes/{name}/files": { delete: op("Remove paths from the latest version") },
    "/v1/sandboxes": { get: op("List sandboxes (all=1 includes ended ones)"), post: op("Create a sandbox", "201", { ...conflict, ...unavailable }) },
    "/v1/sandboxes/{id}": { get: op("A sandbox and its state") },
    "/v1/sandboxes/{id}/exec": { post: { summary: "Run a command; NDJSON events started, stdout, stderr, exit, ping", responses: { "200": { description: "application/x-ndjson" }, ...errors } } },
    "/v1/sandboxes/{id}/execs/{execId}/stdin": { post: op("Send a stdin chunk ({ data: base64, eof })") },
    "/v1/sandboxes/{id}/terminate": { post: op("Terminate a sandbox and its processes") },
    "/v1/sandboxes/{id}/snapshot": { post: op("Snapshot /tmp and /workspace, content-addressed", "201") },
    "/v1/sandboxes/snapshots/{id}": { get: op("A snapshot of the workspace: its image id, for functions and sandboxes that start from it") },
    "/v1/containers": { get: op("Live function containers and sandboxes of the workspace") },
    "/v1/containers/{id}/exec": { post: { summary: "Run a command in a live container; NDJSON events", responses: { "200": { description: "application/x-ndjson" }, ...errors } } },
    "/v1/containers/{id}/execs/{execId}/stdin": { post: op("Send a stdin chunk to a container exec") },
    "/v1/containers/{id}/logs": { get: { summary: "Server-sent events of one container's log lines; follow=1 to tail", responses: { "200": { description: "text/event-stream" }, ...errors } } },
    "/v1/endpoint-tokens": { get: op("List endpoint tokens (never their secrets)"), post: op("Create a token that opens one app's auth: \"token\" web endpoints; the secret is returned once", "201") },
    "/v1/endpoint-tokens/{id}": { delete: op("Revoke an endpoint token") },
    "/v1/endpoints": { get: op("A deployed app's web endpoints and their public URLs (?app=NAME)") },
    ...endpointOpenApiPaths,
    ...storeOpenApiPaths,
  },
} as const;
