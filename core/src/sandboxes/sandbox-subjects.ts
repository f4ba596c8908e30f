/**
 * NATS subjects of one exec's stdio (core NATS, no stream): the region publishes stdin as
 * requests the agent answers once written; the agent publishes stdout, stderr and the exit.
 * `targetId` is the sandbox id, or the container id of a function container (`ferry container exec`).
 *
 * - `ferry.sbx.<targetId>.<execId>.stdin`: a chunk of stdin; an empty payload closes it.
 * - `ferry.sbx.<targetId>.<execId>.stdout` / `.stderr`: raw output bytes.
 * - `ferry.sbx.<targetId>.<execId>.exit`: an `ExecExit` as JSON, the last message of the exec.
 *
 * @example
 * ```ts
 * for (const subject of SandboxSubjects.outputs("sb-1", "ex-1")) nc.subscribe(subject, { callback });
 * ```
 */
export const SandboxSubjects = {
  stdin: (targetId: string, execId: string) => `ferry.sbx.${targetId}.${execId}.stdin`,
  stdout: (targetId: string, execId: string) => `ferry.sbx.${targetId}.${execId}.stdout`,
  stderr: (targetId: string, execId: string) => `ferry.sbx.${targetId}.${execId}.stderr`,
  exit: (targetId: string, execId: string) => `ferry.sbx.${targetId}.${execId}.exit`,
  /**
   * The subjects a reader of an exec subscribes to: stdout, stderr and exit (not a wildcard, which
   * would also match stdin and so answer for a process not yet listening). Callback subscriptions
   * on one connection see one publisher's messages in publish order.
   */
  outputs: (targetId: string, execId: string) => [
    `ferry.sbx.${targetId}.${execId}.stdout`, `ferry.sbx.${targetId}.${execId}.stderr`, `ferry.sbx.${targetId}.${execId}.exit`,
  ] as const,
} as const;

/** The last token of an exec subject: which of its streams a message belongs to. */
export const execStreamOf = (subject: string): "stdin" | "stdout" | "stderr" | "exit" | undefined => {
  const last = subject.slice(subject.lastIndexOf(".") + 1);
  return last === "stdin" || last === "stdout" || last === "stderr" || last === "exit" ? last : undefined;
};
