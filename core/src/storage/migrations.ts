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
  {
    version: 4,
    name: "secrets",
    // Variables sealed with AES-256-GCM under the platform key (core/src/secrets); only their names are plain.
    sql: [
      `CREATE TABLE secrets (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id), name TEXT NOT NULL,
        keys TEXT NOT NULL, sealed TEXT NOT NULL, key_id TEXT NOT NULL, anonymous INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE(workspace_id, name))`,
    ],
  },
  {
    version: 5,
    name: "volumes",
    // Each version is a manifest (path → digest, size, mode, blocks); file contents live once per
    // workspace in content-addressed blocks, so unchanged files are never stored twice.
    sql: [
      `CREATE TABLE volumes (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id), name TEXT NOT NULL,
        version INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE(workspace_id, name))`,
      `CREATE TABLE volume_versions (
        volume_id TEXT NOT NULL, version INTEGER NOT NULL, manifest TEXT NOT NULL, changed_files INTEGER NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (volume_id, version))`,
      `CREATE TABLE volume_blocks (
        workspace_id TEXT NOT NULL, digest TEXT NOT NULL, bytes BLOB NOT NULL, size INTEGER NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (workspace_id, digest))`,
    ],
  },
  {
    version: 6,
    name: "schedule-runs",
    // One row per scheduled tick that ran: the primary key is the claim that makes each
    // (function, tick) run once across every region server (an INSERT that finds it taken loses).
    sql: [
      `CREATE TABLE schedule_runs (
        function_id TEXT NOT NULL, tick_ms INTEGER NOT NULL, call_id TEXT NOT NULL, region TEXT NOT NULL,
        claimed_at INTEGER NOT NULL, PRIMARY KEY (function_id, tick_ms))`,
    ],
  },
  {
    version: 8,
    name: "sandboxes",
    // Sandboxes (`Sandbox.create`) and their filesystem snapshots; a snapshot's tar is stored once per content hash.
    sql: [
      `CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, app_id TEXT NOT NULL, app_name TEXT NOT NULL,
        function_name TEXT NOT NULL, region TEXT NOT NULL, agent_id TEXT NOT NULL, container_id TEXT NOT NULL,
        state TEXT NOT NULL, options TEXT NOT NULL, created_at INTEGER NOT NULL, terminated_at INTEGER, exit_reason TEXT)`,
      `CREATE INDEX sandboxes_workspace ON sandboxes(workspace_id, created_at)`,
      `CREATE TABLE sandbox_snapshots (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, sandbox_id TEXT NOT NULL, hash TEXT NOT NULL,
        size INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
      `CREATE TABLE snapshot_blobs (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
    ],
  },
  {
    version: 9,
    name: "endpoint-tokens",
    // Tokens that open one app's web endpoints (auth: "token") and nothing else; stored hashed like API tokens.
    sql: [
      `CREATE TABLE endpoint_tokens (
        id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL REFERENCES workspaces(id), app_name TEXT NOT NULL,
        name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
    ],
  },
  {
    version: 10,
    name: "snapshot-images",
    // A snapshot is also an image (its files indexed in the region's block store): functions start from its id.
    sql: [`ALTER TABLE sandbox_snapshots ADD COLUMN image_id TEXT NOT NULL DEFAULT ''`],
  },
];
