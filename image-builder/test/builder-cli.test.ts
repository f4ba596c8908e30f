import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../test/fixtures/platform.ts";

const made: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-image-cli-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const appFile = (dir: string, command: string) => {
  const assets = join(dir, "assets");
  mkdirSync(assets, { recursive: true });
  writeFileSync(join(assets, "hello.txt"), "hello");
  const file = join(dir, "app.ts");
  writeFileSync(file, `
import { writeFileSync } from "node:fs";
import { App, Image } from "ferry";
export const app = new App("imgdemo");
export const warm = app.function({}, async () => { writeFileSync("/warmed.txt", "yes"); return "warm ran"; });
const image = Image.base("ferry/node")
  .addLocalDir(${JSON.stringify(assets)}, "/assets", { copy: true })
  .runCommands(${JSON.stringify(command)})
  .runFunction(warm);
export const main = app.function({ image }, async () => "ok");
`);
  return file;
};

describe("ferry image build FILE", () => {
  it("builds an app's image with step progress, then hits the cache; --force rebuilds; --export writes an OCI layout", async () => {
    const dir = scratch();
    const file = appFile(dir, "cat /assets/hello.txt > /copied.txt");
    const env = { ...process.env, FERRY_IMAGE_CACHE: join(dir, "cache") };
    const first = await runCli(["image", "build", file], env, 120_000);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines[0]).toBe("image 1/1 (main): ferry/node, 3 steps");
    expect(lines).toContain(`[1/3] COPY ${join(dir, "assets")} /assets`);
    expect(lines).toContain("[2/3] RUN cat /assets/hello.txt > /copied.txt");
    expect(lines).toContain("[3/3] FUNCTION warm");
    expect(lines).toContain("warm ran");
    expect(lines.at(-1)).toMatch(/^built image [0-9a-f]{12} \(3 layers\)$/);

    const again = await runCli(["image", "build", file, "--json"], env, 120_000);
    expect(again.code).toBe(0);
    expect(again.stderr.split("\n").filter((l) => l.includes("CACHED"))).toHaveLength(3);
    const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
    expect(summary).toMatchObject({ app: "imgdemo", images: [{ functions: ["main"], layers: 3 }] });

    const oci = join(dir, "oci");
    const forced = await runCli(["image", "build", file, "--force", "--export", oci], env, 120_000);
    expect(forced.code).toBe(0);
    expect(forced.stdout).not.toContain("CACHED");
    expect(existsSync(join(oci, "index.json"))).toBe(true);
  });

  it("a failing step exits non-zero with one error line naming the command and exit code", async () => {
    const dir = scratch();
    const file = appFile(dir, "echo about-to-fail; exit 7");
    const r = await runCli(["image", "build", file], { ...process.env, FERRY_IMAGE_CACHE: join(dir, "cache") }, 120_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("about-to-fail");
    expect(r.stderr).toMatch(/^error: BuildStepError: image build step \[2\/3\] RUN .* exited with code 7/);
  });
});
