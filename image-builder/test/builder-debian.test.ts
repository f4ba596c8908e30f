import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, flattenImage } from "../src/index.ts";
import { Image } from "../../sdk/src/images/index.ts";
import { seedDebianBase } from "../../test/fixtures/debian-base.ts";

// Builds over Debian from deb.debian.org with mmdebstrap (network): run with FERRY_SLOW_TESTS=1. The base
// itself is built once per machine and shared with test/e2e/images-debian.test.ts (see debian-base.ts).
describe.runIf(process.env.FERRY_SLOW_TESTS === "1")("Image.debianSlim() (slow: FERRY_SLOW_TESTS=1)", () => {
  it("builds a Debian minbase root, installs apt packages over it and runs Ferry's Node in it", async () => {
    const cacheDir = process.env.FERRY_IMAGE_CACHE ?? mkdtempSync(join(tmpdir(), "ferry-debian-"));
    await seedDebianBase(cacheDir);
    const log: string[] = [];
    const spec = Image.debianSlim().aptInstall("jq").runCommands("echo '{\"a\":1}' | jq .a > /a.txt", "node -e 'console.log(1+1)' > /node.txt").toSpec();
    const built = await buildImage(spec, { cacheDir, onLog: (l) => log.push(l) });
    const root = join(mkdtempSync(join(tmpdir(), "ferry-debian-root-")), "root");
    flattenImage(built, root);
    expect(readFileSync(join(root, "etc/debian_version"), "utf8")).toMatch(/^\d+/);
    expect(readFileSync(join(root, "a.txt"), "utf8")).toBe("1\n");
    expect(readFileSync(join(root, "node.txt"), "utf8")).toBe("2\n");
    const again: string[] = [];
    await buildImage(spec, { cacheDir, onLog: (l) => again.push(l) });
    expect(again.filter((l) => l.includes("CACHED"))).toHaveLength(2);
  }, 900_000);
});
