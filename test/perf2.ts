import { startLocalPlatform } from "ferry/platform";
import { setClientConfig, FerryClient } from "ferry";
import { deployFile } from "../sdk/src/cli/deploy-file.ts";
const p = await startLocalPlatform({ agents: 1 });
setClientConfig({ url: p.url, token: p.token });
const client = new FerryClient({ url: p.url, token: p.token });
const d = await deployFile(client, "test/fixtures/apps/basic-app.ts", { mode: "ephemeral" });
const f = d.discovered.functions.find(f => f.name === "slowSquare")!.handle as any;
const t = performance.now(); let c = 0;
for await (const y of f.map(Array.from({ length: 200 }, (_, i) => i), { orderOutputs: false })) { c++; if (c % 20 === 0) console.log(c, (performance.now() - t).toFixed(0), "containers", p.agents[0].containers.size); }
console.log("done", (performance.now() - t).toFixed(0));
await p.stop();
process.exit(0);
