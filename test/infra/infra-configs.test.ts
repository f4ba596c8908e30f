import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findNatsServer } from "../../sdk/src/platform/nats-server.ts";
import { FERRY_BIN, REPO_ROOT } from "../fixtures/platform.ts";

const INFRA = join(REPO_ROOT, "infra");

describe("infra/", () => {
  it("every NATS config in infra/nats is accepted by nats-server", () => {
    const confs = readdirSync(join(INFRA, "nats")).filter((f) => f.endsWith(".conf"));
    expect(confs.length).toBeGreaterThanOrEqual(2);
    for (const conf of confs) {
      const r = spawnSync(findNatsServer(), ["-t", "-c", join(INFRA, "nats", conf)], {
        env: { ...process.env, FERRY_NATS_REGION_PASSWORD: "a", FERRY_NATS_AGENT_PASSWORD: "b", FERRY_NATS_STATE_PASSWORD: "c" },
        encoding: "utf8",
      });
      expect(r.status, `${conf}: ${r.stderr}${r.stdout}`).toBe(0);
    }
  });

  it("the systemd units only use flags the ferry commands have", () => {
    const help = (args: string[]) => spawnSync(process.execPath, [FERRY_BIN, ...args, "--help"], { encoding: "utf8" }).stdout;
    const commands: Record<string, string> = { "ferry-region.service": help(["region", "serve"]), "ferry-agent.service": help(["agent"]) };
    for (const [unit, text] of Object.entries(commands)) {
      const unitText = readFileSync(join(INFRA, "systemd", unit), "utf8");
      const flags = [...unitText.matchAll(/\s(--[a-z-]+)/g)].map((m) => m[1]!);
      expect(flags.length).toBeGreaterThan(3);
      for (const flag of flags) expect(text, `${unit} uses ${flag}`).toContain(flag);
    }
  }, 30_000);
});
