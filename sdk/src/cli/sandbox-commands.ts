// `ferry shell FILE::fn` and `ferry container list / exec / logs`: sandboxes and live containers from a terminal.
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { FerryClient } from "../client/ferry-client.ts";
import { setClientConfig } from "../config/client-config.ts";
import { connectOrStartPlatform } from "./platform-session.ts";
import { attachTerminal } from "../sandboxes/attach-terminal.ts";
import { ContainerProcess } from "../sandboxes/container-process.ts";
import { ndjsonLines } from "../sandboxes/ndjson-lines.ts";
import { Sandbox } from "../sandboxes/sandbox.ts";
import { info, printTable, reportError } from "./cli-output.ts";
import { deployFile } from "./deploy-file.ts";

/** A shell's sandbox lives at most this long (it ends earlier when the shell exits). */
export const SHELL_TIMEOUT_S = 3_600;
/** The shell `ferry shell` starts: bash when the image has it, else sh. */
const INTERACTIVE_SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash -i; else exec sh -i; fi"] as const;

const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));

/** What a terminal tells the remote shell about itself. */
const terminalEnv = (): Record<string, string> => process.stdout.isTTY
  ? { TERM: process.env.TERM ?? "xterm-256color", COLUMNS: String(process.stdout.columns), LINES: String(process.stdout.rows) }
  : {};

/**
 * `ferry shell FILE::fn`: deploy the app ephemerally, start a sandbox like `fn`'s containers (its
 * bundle at /opt/ferry/app, its GPU, CPU and memory), run an interactive shell in it wired to
 * this terminal (raw on a TTY; line by line through pipes), and clean everything up on exit.
 */
export const runShell = async (target: string, command: string | undefined): Promise<number> => {
  const [file, fnName] = target.split("::");
  if (!file || !fnName) throw new Error(`ferry shell needs FILE::function (e.g. app.ts::square), got ${JSON.stringify(target)}`);
  const { client, embedded: platform } = await connectOrStartPlatform();
  let deployed: Awaited<ReturnType<typeof deployFile>> | undefined;
  let sandbox: Sandbox | undefined;
  try {
    deployed = await deployFile(client, file, { mode: "ephemeral", onProgress: info });
    const fn = deployed.response.functions.find((f) => f.name === fnName);
    if (!fn) throw new Error(`app ${deployed.response.app.name} has no function ${fnName} (it has ${deployed.response.functions.map((f) => f.name).join(", ")})`);
    info(`starting a sandbox like ${deployed.response.app.name}.${fnName}'s containers`);
    sandbox = await Sandbox.create({ app: deployed.response.app.id, functionId: fn.id, timeout: SHELL_TIMEOUT_S }, client);
    info(`sandbox ${sandbox.id} is up; exit the shell to end it`);
    const argv = command === undefined ? INTERACTIVE_SHELL : ["/bin/sh", "-c", command];
    return await attachTerminal(await sandbox.exec(argv, { pty: process.stdin.isTTY === true, env: terminalEnv() }));
  } finally {
    await sandbox?.terminate().catch(() => undefined);
    if (deployed) {
      await client.request("POST", `/v1/apps/${deployed.response.app.id}/stop`).catch(() => undefined);
      await deployed.dispose();
    }
    setClientConfig(undefined);
    if (platform) await platform.stop();
  }
};

/** `ferry shell FILE::fn [--cmd CMD]`. */
export const shellCommand = Command.make("shell", {
  target: Argument.String("target").pipe(Argument.withDescription("FILE::function")),
  cmd: Flag.String("cmd").pipe(Flag.withDescription("Run this shell command instead of an interactive shell"), Flag.optional),
}, action(async ({ target, cmd }) => {
  process.exitCode = await runShell(target, cmd._tag === "Some" ? cmd.value : undefined);
})).pipe(Command.withDescription("An interactive shell in a sandbox like FILE::fn's containers"));

interface ListedContainer {
  id: string; kind: string; app: string; function: string; agent: string; state: string; startedAt: number; idleSince: number | null; region: string;
}

const containerList = Command.make("list", { json }, action(async ({ json }) => {
  const { containers } = await (await FerryClient.fromEnvironment()).request<{ containers: ListedContainer[] }>("GET", "/v1/containers");
  if (json) return void process.stdout.write(`${JSON.stringify(containers)}\n`);
  const at = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());
  printTable(["ID", "KIND", "APP", "FUNCTION", "AGENT", "STATE", "STARTED", "IDLE SINCE"],
    containers.map((c) => [c.id, c.kind, c.app, c.function, c.agent, c.state, at(c.startedAt), at(c.idleSince)]));
}));

const containerExec = Command.make("exec", {
  id: Argument.String("id").pipe(Argument.withDescription("Container id (ct-…) or sandbox id (sb-…)")),
  command: Argument.String("command").pipe(Argument.withDescription("The command, after --"), Argument.variadic()),
}, action(async ({ id, command }) => {
  if (command.length === 0) throw new Error("name a command to run: ferry container exec ID -- CMD [ARGS…]");
  const client = await FerryClient.fromEnvironment();
  const p = await ContainerProcess.start(client, `/v1/containers/${encodeURIComponent(id)}`, command, { pty: process.stdin.isTTY === true, env: terminalEnv() });
  process.exitCode = await attachTerminal(p);
}));

interface LogEvent { functionName: string; containerId: string; stream: "stdout" | "stderr" | "system"; line: string }

const containerLogs = Command.make("logs", {
  id: Argument.String("id"),
  follow: Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDescription("Keep printing new lines until the container is gone"), Flag.withDefault(false)),
  json,
}, action(async ({ id, follow, json }) => {
  const ctl = new AbortController();
  process.once("SIGINT", () => ctl.abort());
  const res = await (await FerryClient.fromEnvironment()).raw("GET", `/v1/containers/${encodeURIComponent(id)}/logs?follow=${follow ? 1 : 0}`, undefined, ctl.signal);
  if (!res.body) return;
  try {
    for await (const event of ndjsonLines(res.body as unknown as AsyncIterable<Uint8Array>)) {
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (json) {
        process.stdout.write(`${data}\n`);
        continue;
      }
      const e = JSON.parse(data) as LogEvent;
      (e.stream === "stderr" ? process.stderr : process.stdout).write(`[${e.functionName} ${e.containerId}] ${e.line}\n`);
    }
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  }
}));

/** `ferry container list / exec / logs`. */
export const containerCommand = Command.make("container").pipe(
  Command.withDescription("Live containers and sandboxes: list them, run a command in one, read its logs"),
  Command.withSubcommands([containerList, containerExec, containerLogs]),
);
