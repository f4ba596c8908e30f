import type { FerryClient } from "../client/ferry-client.ts";

/** One deployed web endpoint and its public URL. */
export interface EndpointUrl {
  readonly function: string;
  readonly kind: "endpoint" | "webApp";
  readonly method?: string;
  readonly auth: "token" | "none";
  readonly url: string;
}

/**
 * The web endpoints of a deployed app with their URLs (`GET /v1/endpoints`), as `ferry deploy` prints them.
 *
 * @example
 * ```ts
 * for (const e of await endpointUrls(client, "demo")) console.log(e.method ?? "*", e.url);
 * ```
 */
export const endpointUrls = async (client: FerryClient, app: string, environment?: string): Promise<ReadonlyArray<EndpointUrl>> => {
  const q = new URLSearchParams({ app, ...(environment ? { environment } : {}) });
  const { endpoints } = await client.request<{ endpoints: EndpointUrl[] }>("GET", `/v1/endpoints?${q}`);
  return endpoints;
};

/** One line per endpoint: `GET  https://…/default/demo/hello/  (auth: none)`. */
export const formatEndpointLine = (e: EndpointUrl): string =>
  `  ${(e.kind === "webApp" ? "ANY" : e.method ?? "GET").padEnd(7)} ${e.url}  (${e.function}, auth: ${e.auth})`;
