import { serve, type ServerType } from "@hono/node-server";

/** A fetch-style app listening on Node. */
export interface ListeningHttp {
  /** `http://host:port`, with the port the system picked when 0 was asked. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve a fetch handler (a Hono app's `fetch`) on Node; port 0 picks a free port. `close`
 * also drops idle keep-alive connections, which would otherwise hold it open.
 *
 * @example
 * ```ts
 * const http = await listenHttp(app.fetch, "127.0.0.1", 0);
 * await fetch(`${http.url}/v1/health`);
 * await http.close();
 * ```
 */
export const listenHttp = async (fetch: (request: Request) => Response | Promise<Response>, host: string, port: number): Promise<ListeningHttp> => {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch, hostname: host, port }, () => resolve(s));
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://${host}:${actualPort}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  };
};
