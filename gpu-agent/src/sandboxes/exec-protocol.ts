// Lines of JSON exchanged between the agent and the exec server inside a sandbox, over fd 3.
// Bytes travel as base64.

/** Agent → exec server. */
export type ToExecServer =
  | { readonly t: "exec"; readonly id: string; readonly argv: ReadonlyArray<string>; readonly env: Readonly<Record<string, string>>; readonly cwd: string; readonly pty: boolean }
  | { readonly t: "stdin"; readonly id: string; readonly data: string }
  | { readonly t: "stdin_end"; readonly id: string }
  | { readonly t: "kill"; readonly id: string; readonly signal: NodeJS.Signals }
  // Tar these sandbox paths (relative to /) and send the archive back in `snap_data` chunks.
  | { readonly t: "snapshot"; readonly id: string; readonly paths: ReadonlyArray<string> };

/** Exec server → agent. */
export type FromExecServer =
  | { readonly t: "ready" }
  // The sandbox cannot serve (its snapshot could not be restored).
  | { readonly t: "fatal"; readonly error: string }
  | { readonly t: "out"; readonly id: string; readonly stream: "stdout" | "stderr"; readonly data: string }
  // `code` is the exit status, or 128+N for signal N; `error` when it could not be started at all.
  | { readonly t: "exit"; readonly id: string; readonly code: number; readonly signal: string | null; readonly error?: string }
  | { readonly t: "snap_data"; readonly id: string; readonly data: string }
  | { readonly t: "snap_end"; readonly id: string; readonly error?: string };

/** Where a snapshot to restore is mounted inside the sandbox. */
export const SNAPSHOT_IN_SANDBOX = "/opt/ferry/snapshot/snapshot.tar";
/** The sandbox paths a snapshot holds (relative to /): its writable directories. */
export const SNAPSHOT_PATHS = ["tmp", "workspace"] as const;
