import { FerryClient, type DeployResponse } from "../client/ferry-client.ts";
import { bundleApp } from "../bundling/bundle-app.ts";
import { discoverApp, type DiscoveredApp } from "../bundling/discover-app.ts";

export interface DeployedFile {
  readonly discovered: DiscoveredApp;
  readonly response: DeployResponse;
  dispose(): Promise<void>;
}

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

/**
 * Bundle `file`, find its app and functions, deploy them (`ephemeral` for `ferry run`), and bind
 * the module's function handles to the deployed ids so `.remote()` in the same process reaches them.
 */
export const deployFile = async (client: FerryClient, file: string, opts: { mode: "deployed" | "ephemeral"; environment?: string; onProgress?: (line: string) => void }): Promise<DeployedFile> => {
  opts.onProgress?.(`bundling ${file}`);
  const bundle = await bundleApp(file);
  try {
    const mod = (await import(bundle.localModuleUrl)) as Record<string, unknown>;
    const discovered = discoverApp(mod, file);
    opts.onProgress?.(`deploying app ${discovered.app.name} (${discovered.functions.length} function${discovered.functions.length === 1 ? "" : "s"}, ${(bundle.code.byteLength / 1024).toFixed(0)} KiB)`);
    const response = await client.deploy({
      name: discovered.app.name,
      mode: opts.mode,
      environment: opts.environment,
      bundle: toBase64(bundle.code),
      functions: discovered.functions.map((f) => ({ name: f.name, options: f.options })),
    });
    for (const f of discovered.functions) {
      const id = response.functions.find((r) => r.name === f.name)?.id;
      if (id) f.handle.bindTo(client, id);
    }
    return { discovered, response, dispose: bundle.dispose };
  } catch (e) {
    await bundle.dispose();
    throw e;
  }
};
