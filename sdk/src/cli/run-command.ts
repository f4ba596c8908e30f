import { setClientConfig } from "../config/client-config.ts";
import { connectOrStartPlatform } from "./platform-session.ts";
import { info, resultJson } from "./cli-output.ts";
import { deployFile } from "./deploy-file.ts";
import { streamAppLogs } from "./stream-logs.ts";

/** Give container output this long to arrive after the entrypoint returns. */
const LOG_DRAIN_MS = 300;

const parseArg = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/**
 * `ferry run FILE[::fn] [-- args]`: deploy the app ephemerally, run its local entrypoint (or one
 * function with the args), stream container output, then stop the app. With no platform
 * configured, an embedded one is started for the run and stopped after.
 */
export const runFile = async (target: string, args: ReadonlyArray<string>): Promise<void> => {
  const [file, fnName] = target.split("::");
  const { client, embedded: platform } = await connectOrStartPlatform();
  const logs = new AbortController();
  let deployed: Awaited<ReturnType<typeof deployFile>> | undefined;
  try {
    deployed = await deployFile(client, file, { mode: "ephemeral", onProgress: info });
    const app = deployed.discovered.app;
    const logging = streamAppLogs(client, deployed.response.app.id, { follow: true, signal: logs.signal }).catch(() => undefined);
    if (fnName) {
      const fn = deployed.discovered.functions.find((f) => f.name === fnName);
      if (!fn) throw new Error(`app ${app.name} has no function ${fnName} (it has ${deployed.discovered.functions.map((f) => f.name).join(", ")})`);
      const result = await (fn.handle as unknown as { remote: (...a: unknown[]) => Promise<unknown> }).remote(...args.map(parseArg));
      process.stdout.write(`${typeof result === "string" ? result : resultJson(result)}\n`);
    } else {
      const entry = app.localEntrypoint();
      if (!entry) throw new Error(`app ${app.name} has no local entrypoint: add app.local(async () => …), or run one function with ${file}::NAME`);
      await entry(args);
    }
    await new Promise((r) => setTimeout(r, LOG_DRAIN_MS));
    logs.abort();
    await logging;
  } finally {
    logs.abort();
    if (deployed) {
      await client.request("POST", `/v1/apps/${deployed.response.app.id}/stop`).catch(() => undefined);
      await deployed.dispose();
    }
    setClientConfig(undefined);
    if (platform) await platform.stop();
  }
};
