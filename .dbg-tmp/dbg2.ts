import { mkdirSync, writeFileSync } from "node:fs";
import { startTestPlatform } from "/work/main/test/fixtures/platform.ts";
import { seedDebianBase } from "/work/main/test/fixtures/debian-base.ts";
import { deployFile } from "/work/main/sdk/src/cli/deploy-file.ts";
const dir = "/tmp/ferry-deb-dbg";
mkdirSync(dir + "/data", { recursive: true });
writeFileSync(dir + "/data/note.txt", "v1");
await seedDebianBase(dir + "/cache");
process.env.FERRY_IMAGE_CACHE = dir + "/cache";
process.env.FERRY_TEST_DEBIAN_DATA = dir + "/data";
const t = await startTestPlatform({ agents: 1 });
try {
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: t.platform.natsUrl });
  nc.subscribe(">", { callback: (_e, m) => { if (!m.subject.startsWith("$JS") && !m.subject.startsWith("_INBOX")) console.log("NATS", m.subject, m.string().slice(0, 300)); } });
  const d = await deployFile(t.client, "/work/main/.dbg-tmp/app2.ts", { mode: "ephemeral", onProgress: (l) => { if (!/uploaded \d/.test(l)) console.log(l.slice(0, 160)); } });
  const probe = d.discovered.functions[0].handle as any;
  const { execSync } = await import("node:child_process");
  setTimeout(() => { console.log(execSync(`pstree -pa ${process.pid} | grep -v "{" | head -40`).toString()); }, 20_000);
  t.platform.agents?.[0];
  const r = await Promise.race([probe.remote(), new Promise((res) => setTimeout(() => res("TIMEOUT"), 45_000))]);
  console.log("RESULT", JSON.stringify(r));
  const res = await t.client.raw("GET", `/v1/apps/${encodeURIComponent(d.discovered.app.name)}/logs?follow=0`);
  console.log("LOGS", (await res.text()).slice(-4000));
  await d.dispose();
} finally {
  await t.stop();
}
process.exit(0);
