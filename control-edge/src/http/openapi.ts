const bearer = [{ bearer: [] }];
const json = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
const errors = {
  "400": json("invalid input: `error.field` names the field at fault"),
  "401": json("missing, malformed or revoked token"),
  "404": json("no such object in the caller's workspace"),
  "413": json("body or value over a named limit"),
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
  },
} as const;
