import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, exportOci, importOci } from "../src/index.ts";
import { BUILD_CA_FILE, npmToolEntries } from "../src/build/build-tools.ts";
import { planStep } from "../src/build/step-plan.ts";
import { Image } from "../../sdk/src/images/index.ts";

const made: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-image-roots-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A project whose only dependency is a local tarball ("tiny-dep"): `npm ci` needs no registry. */
const npmProject = () => {
  const dir = scratch();
  const pkg = join(dir, "src-pkg", "package");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "tiny-dep", version: "1.0.0", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), `module.exports = "tiny-dep 1.0.0";`);
  const project = join(dir, "project");
  mkdirSync(join(project, "vendor"), { recursive: true });
  execFileSync("tar", ["czf", join(project, "vendor", "tiny-dep.tgz"), "-C", join(dir, "src-pkg"), "package"]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "proj", version: "1.0.0", dependencies: { "tiny-dep": "file:vendor/tiny-dep.tgz" } }));
  execFileSync("npm", ["install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"], { cwd: project, stdio: "ignore" });
  return project;
};

describe("how an image's containers make their root, and where its npm packages are", () => {
  it("npm steps install into /app, or into the workdir in effect (pure)", () => {
    expect(planStep({ kind: "npmInstall", dependencies: { ms: "2.1.3" } }, "/")).toMatchObject({ npmDir: "/app" });
    expect(planStep({ kind: "npmInstall", dependencies: { ms: "2.1.3" } }, "/srv")).toMatchObject({ npmDir: "/srv" });
  });

  it("a ferry/node image is an overlay that records its npm directory; a runFunction step imports the package by bare name from there", async () => {
    const appModule = join(scratch(), "app.mjs");
    // What deploy ships when the image provides tiny-dep: the bundle imports it by name.
    writeFileSync(appModule, `
      import tiny from "tiny-dep";
      import { createRequire } from "node:module";
      import { writeFileSync } from "node:fs";
      export const warm = { [Symbol.for("ferry.function")]: true, name: "warm", async local() {
        writeFileSync("/srv/warm.txt", tiny + " / " + createRequire(import.meta.url)("tiny-dep/package.json").version);
      } };
    `);
    const spec = Image.base("ferry/node").workdir("/srv").npmInstall({ lockfile: join(npmProject(), "package-lock.json") }).toSpec();
    const built = await buildImage({ ...spec, steps: [...spec.steps, { kind: "runFunction", function: "warm" }] }, { cacheDir: scratch(), appModule });
    expect(built.root).toBe("overlay");
    expect(built.npmDirs).toEqual(["/srv"]);
    expect(readFileSync(join(built.layers.at(-1)!.dir, "srv", "warm.txt"), "utf8")).toBe("tiny-dep 1.0.0 / 1.0.0");
  });

  it("an OCI layout keeps whether it was exported from ferry/node: such an image stays an overlay through export and import, any other is a full root", async () => {
    const cacheDir = scratch();
    const overlay = await buildImage(Image.base("ferry/node").runCommands("echo hi > /hi.txt").toSpec(), { cacheDir });
    const first = join(scratch(), "first");
    await exportOci(overlay, first);
    const fromLayout = await buildImage(Image.fromOci(first).runCommands("echo again > /again.txt").toSpec(), { cacheDir });
    expect(fromLayout.root).toBe("overlay");
    const second = join(scratch(), "second");
    await exportOci(fromLayout, second);
    const index = JSON.parse(readFileSync(join(second, "index.json"), "utf8")) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(readFileSync(join(second, "blobs", "sha256", index.manifests[0]!.digest.slice(7)), "utf8")) as { annotations: Record<string, string> };
    expect(manifest.annotations["dev.ferry.image.base"]).toBe("ferry/node");
    expect((await importOci(second, join(scratch(), "layers"))).ferryBase).toBe("ferry/node");

    // The same layers exported as a whole root (as a Debian image is): a full root when imported.
    const whole = join(scratch(), "whole");
    await exportOci({ ...overlay, root: "full", base: { kind: "debian-slim", suite: "bookworm" } }, whole);
    const full = await buildImage(Image.fromOci(whole).toSpec(), { cacheDir });
    expect(full.root).toBe("full");
    expect(full.baseEntries.map((e) => e.sandboxPath)).toEqual(expect.arrayContaining(["/opt/ferry/node", "/opt/ferry/npm", "/opt/ferry/bin"]));
  });

  it("a full root's steps get the host's npm and CA bundle lent, under /opt/ferry, never over the image's own files", () => {
    const tools = join(scratch(), "tools");
    const entries = npmToolEntries(tools, "/usr/lib/node_modules/npm");
    expect(entries).toEqual([
      { hostPath: "/usr/lib/node_modules/npm", sandboxPath: "/opt/ferry/npm" },
      { hostPath: join(tools, "bin"), sandboxPath: "/opt/ferry/bin" },
    ]);
    expect(execFileSync("readlink", [join(tools, "bin", "npm")], { encoding: "utf8" }).trim()).toBe("/opt/ferry/npm/bin/npm-cli.js");
    expect(BUILD_CA_FILE.startsWith("/opt/ferry/")).toBe(true);
  });
});
