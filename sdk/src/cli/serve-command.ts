import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import type { FerryClient, DeployResponse } from "../client/ferry-client.ts";
import { setClientConfig } from "../config/client-config.ts";
import type { AppBundle } from "../bundling/bundle-app.ts";
import { deployFile } from "./deploy-file.ts";
import { watchInputs, type InputWatcher } from "../bundling/watch-inputs.ts";
import { connectOrStartPlatform } from "./platform-session.ts";
import { info, reportError } from "./cli-output.ts";

/** One deploy of the served app: its bundle (kept until the next one replaces it) and the answer. */
interface Served {
  readonly bundle: AppBundle;
  readonly response: DeployResponse;
}

/** Deploy `file` as `deployed` in `environment` (images built and uploaded, as `ferry deploy` does). */
const deployOnce = async (client: FerryClient, file: string, environment: string | undefined, refuseRunning: boolean): Promise<Served> => {
  const d = await deployFile(client, file, {
    mode: "deployed", environment,
    check: refuseRunning ? (discovered) => refuseIfDeployed(client, discovered.app.name, environment) : undefined,
  });
  return { bundle: d.bundle, response: d.response };
};

/** `ferry serve` stops the app it serves when it ends: it must not take over an app deployed for good. */
const refuseIfDeployed = async (client: FerryClient, name: string, environment = "main"): Promise<void> => {
  const { apps } = await client.request<{ apps: Array<{ name: string; environment: string; mode: string; state: string }> }>("GET", "/v1/apps");
  if (apps.some((a) => a.name === name && a.environment === environment && a.mode === "deployed" && a.state === "running")) {
    throw new Error(`app ${name} is deployed and running in environment ${environment}, and ferry serve stops the app it serves when it ends: serve it in another environment (--env dev), or stop it first (ferry app stop ${name})`);
  }
};

/** One line saying what a redeploy did to the app's containers. */
const describeRedeploy = (previous: Served, next: Served): string => {
  const restarted = next.response.restarted ?? [];
  const { name } = next.response.app;
  if (next.bundle.sha256 === previous.bundle.sha256 && restarted.length === 0) return `redeployed app ${name}: no change (bundle ${next.bundle.sha256.slice(0, 12)}); containers kept`;
  return `redeployed app ${name}: bundle ${next.bundle.sha256.slice(0, 12)}; ${restarted.length > 0 ? `restarted ${restarted.join(", ")}` : "no running function restarted"}`;
};

/**
 * `ferry serve FILE`: deploy the app (mode `deployed`, in `--env`), then watch the files its
 * bundle was built from and redeploy on every save, one line per redeploy. Functions whose code
 * and options did not change keep their containers (a save that leaves the bundle as it was
 * restarts nothing); changed ones get new containers. Ctrl-C stops the app, as Modal's serve
 * does. With no platform configured, an embedded one runs for the session.
 */
export const serveFile = async (file: string, opts: { readonly environment?: string; readonly signal?: AbortSignal } = {}): Promise<void> => {
  const { client, embedded: platform } = await connectOrStartPlatform();
  let served: Served | undefined;
  let watcher: InputWatcher | undefined;
  try {
    info(`bundling ${file}`);
    served = await deployOnce(client, file, opts.environment, true);
    const { app, functions } = served.response;
    process.stdout.write(`serving app ${app.name} (${app.id}) in environment ${app.environment}: ${functions.map((f) => f.name).join(", ")}\n`);
    process.stdout.write(`watching ${served.bundle.inputs.length} file${served.bundle.inputs.length === 1 ? "" : "s"}; Ctrl-C stops the app\n`);
    // Saves during a redeploy are taken up by one more redeploy after it.
    let redeploying: Promise<void> | undefined;
    let again = false;
    const redeploy = async (): Promise<void> => {
      if (redeploying) return void (again = true);
      redeploying = (async () => {
        do {
          again = false;
          try {
            const next = await deployOnce(client, file, opts.environment, false);
            const previous = served!;
            served = next;
            await previous.bundle.dispose();
            watcher?.update(next.bundle.inputs);
            process.stdout.write(`${describeRedeploy(previous, next)}\n`);
          } catch (e) {
            // One line, and serving goes on: the last good deploy stays up.
            info(`error: ${e instanceof Error ? e.message : String(e)}; keeping the last deploy, fix it and save again`);
          }
        } while (again);
      })();
      await redeploying;
      redeploying = undefined;
    };
    watcher = watchInputs(served.bundle.inputs, () => void redeploy());
    await waitForStop(opts.signal);
    await redeploying;
  } finally {
    watcher?.close();
    if (served) {
      const { app } = served.response;
      await client.request("POST", `/v1/apps/${app.id}/stop`).then(
        () => process.stdout.write(`stopped app ${app.name}\n`),
        (e: unknown) => info(`could not stop app ${app.name}: ${(e as Error).message}`),
      );
      await served.bundle.dispose();
    }
    setClientConfig(undefined);
    if (platform) await platform.stop();
  }
};

/** Resolves on Ctrl-C, SIGTERM, or the signal's abort. */
const waitForStop = (signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal?.aborted) return resolve();
  signal?.addEventListener("abort", () => resolve(), { once: true });
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});

/** The `ferry serve FILE [--env NAME]` command. */
export const serveCommand = Command.make("serve", {
  file: Argument.String("file"),
  env: Flag.String("env").pipe(Flag.withDescription("Environment"), Flag.optional),
}, ({ file, env }) => Effect.promise(() => serveFile(file, { environment: Option.getOrUndefined(env) }).catch(reportError)))
  .pipe(Command.withDescription("Deploy an app and redeploy it on every save; Ctrl-C stops it"));
