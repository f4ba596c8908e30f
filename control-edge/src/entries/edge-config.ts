/** The settings every edge entry reads: from the process environment, or a Worker's bindings. */
export interface EdgeConfig {
  /** Platform state: a region's SQL-over-HTTP endpoint, sqld, or Turso (`file:` too on Node). */
  readonly databaseUrl: string;
  /** Bearer token for `databaseUrl` (the internal token for a region's endpoint; a JWT for Turso). */
  readonly databaseToken?: string;
  /** Secret shared with the regions' internal API. */
  readonly internalToken: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** Port an edge entry listens on when `PORT` is not set. */
export const DEFAULT_EDGE_PORT = 8787;

/** Environment variables (or bindings) an edge entry reads. */
export type EdgeEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * Read an edge's settings from `DATABASE_URL`, `DATABASE_TOKEN`, `INTERNAL_TOKEN`, `HOST` and
 * `PORT`; throws naming the variable to set when a required one is missing.
 *
 * @example
 * ```ts
 * const config = readEdgeConfig(process.env);
 * ```
 */
export const readEdgeConfig = (env: EdgeEnvironment): EdgeConfig => {
  const required = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === "") throw new Error(`the edge needs ${name}: set it in the environment (or as a Worker binding/secret)`);
    return v;
  };
  const port = env.PORT === undefined || env.PORT === "" ? DEFAULT_EDGE_PORT : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be an integer 0-65535, got ${JSON.stringify(env.PORT)}`);
  return {
    databaseUrl: required("DATABASE_URL"),
    databaseToken: env.DATABASE_TOKEN === "" ? undefined : env.DATABASE_TOKEN,
    internalToken: required("INTERNAL_TOKEN"),
    host: env.HOST === undefined || env.HOST === "" ? "127.0.0.1" : env.HOST,
    port,
  };
};

/** The line an edge entry prints once it listens; tests and scripts read the URL from it. */
export const listeningLine = (runtime: string, url: string): string => `ferry edge (${runtime}) listening on ${url}`;
