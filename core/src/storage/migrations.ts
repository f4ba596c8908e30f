/**
 * Versioned schema migrations, applied in order once each; `schema_migrations` records which ran.
 * Never edit a shipped migration: add the next one.
 */
export const Migrations: ReadonlyArray<{ readonly version: number; readonly name: string; readonly sql: ReadonlyArray<string> }> = [
  {
    version: 1,
    name: "initial",
    sql: [
      `CREATE TABLE workspaces (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL)`,
      `CREATE TABLE tokens (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id), name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
      `CREATE TABLE bundles (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
      `CREATE TABLE apps (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id), name TEXT NOT NULL,
        environment TEXT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL, bundle_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
      `CREATE UNIQUE INDEX apps_deployed_name ON apps(workspace_id, environment, name) WHERE mode = 'deployed'`,
      `CREATE TABLE functions (
        id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES apps(id), workspace_id TEXT NOT NULL,
        name TEXT NOT NULL, options TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE(app_id, name))`,
      `CREATE TABLE calls (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, function_id TEXT NOT NULL REFERENCES functions(id),
        region TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      `CREATE TABLE regions (name TEXT PRIMARY KEY, url TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
    ],
  },
  {
    version: 2,
    name: "functions-removed-at",
    // A function dropped by a redeploy keeps its row (its calls point at it) but is marked removed.
    sql: [`ALTER TABLE functions ADD COLUMN removed_at INTEGER`],
  },
  {
    version: 3,
    name: "usage",
    // One row per metered interval of one container: its resources and what they cost then.
    sql: [
      `CREATE TABLE usage (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, app_id TEXT NOT NULL, app_name TEXT NOT NULL,
        function_id TEXT NOT NULL, function_name TEXT NOT NULL, container_id TEXT NOT NULL, agent_id TEXT NOT NULL,
        region TEXT NOT NULL, cloud TEXT NOT NULL, gpu_type TEXT NOT NULL, gpu_count INTEGER NOT NULL,
        cpu REAL NOT NULL, memory_mib INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
        price_per_second REAL NOT NULL, cost_usd REAL NOT NULL)`,
      `CREATE INDEX usage_workspace_time ON usage(workspace_id, end_ms)`,
    ],
  },
];
