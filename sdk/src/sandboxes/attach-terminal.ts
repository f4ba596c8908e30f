import type { ContainerProcess } from "./container-process.ts";

/**
 * Wire a process to this terminal: our stdin to its stdin (raw, key by key, when stdin is a TTY;
 * chunk by chunk through pipes, ending its stdin when ours ends), its stdout and stderr to ours.
 * Resolves with its exit code once it ended and its output is written.
 *
 * @example
 * ```ts
 * process.exitCode = await attachTerminal(await sb.exec(["bash", "-i"], { pty: process.stdin.isTTY }));
 * ```
 */
export const attachTerminal = async (p: ContainerProcess, io: { stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream } = {}): Promise<number> => {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const onData = (chunk: Buffer) => void p.stdin.write(new Uint8Array(chunk));
  const onEnd = () => void p.stdin.end();
  stdin.on("data", onData);
  stdin.once("end", onEnd);
  stdin.resume();
  const pump = async (from: AsyncIterable<string>, to: NodeJS.WriteStream) => {
    for await (const text of from) to.write(text);
  };
  try {
    const [code] = await Promise.all([p.wait(), pump(p.stdout, stdout), pump(p.stderr, stderr)]);
    return code;
  } finally {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
};
