import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Image } from "ferry";
import { buildImage, exportOci } from "../../image-builder/src/index.ts";
import { deployFile, type DeployedFile } from "../../sdk/src/cli/deploy-file.ts";
import { hasMmdebstrap, seedDebianBase } from "../fixtures/debian-base.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const DEBIAN_APP = join(REPO_ROOT, "test/fixtures/apps/debian-app.ts");
const OCI_APP = join(REPO_ROOT, "test/fixtures/apps/oci-app.ts");
const NPM_V1 = { ms: "2.1.3", "is-number": "7.0.0" };
const NPM_V2 = { ms: "2.1.2", "is-number": "7.0.0" };
/** Builds run apt and npm against Debian's archive and the npm registry: generous limits. */
const SLOW = { timeout: 600_000 };

type Probe = { jq: string; hour: number; isNumber: boolean[]; msVersion: string; note: string; debian: boolean; user: string };
const probeOf = (d: DeployedFile) => d.discovered.functions.find((f) => f.name === "probe")!.handle as unknown as { remote(): Promise<Probe> };
/** Build steps that ran (not CACHED), by their log lines: "[2/2] NPM install …". */
const stepsRun = (lines: ReadonlyArray<string>) => lines.filter((l) => /^\[\d+\/\d+\] (APT|NPM|RUN|COPY)/.test(l));
const stepsCached = (lines: ReadonlyArray<string>) => lines.filter((l) => /^\[\d+\/\d+\] CACHED/.test(l));

if (!hasMmdebstrap()) console.warn("images-debian.test.ts skipped: Image.debianSlim() needs mmdebstrap (apt-get install -y mmdebstrap)");

describe.skipIf(!hasMmdebstrap())("functions on a Debian image (skipped without mmdebstrap)", () => {
  let t: TestPlatform;
  let dir: string;
  let first: DeployedFile;
  const firstLog: string[] = [];
  const env = { ...process.env };
  const deployed: DeployedFile[] = [];
  const deploy = async (file: string, log: string[] = []) => {
    const d = await deployFile(t.client, file, { mode: "ephemeral", onProgress: (l) => { log.push(l); if (process.env.DBG_DEBIAN) console.log(new Date().toISOString(), l.slice(0, 150)); } });
    deployed.push(d);
    return d;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-debian-e2e-"));
    await mkdir(join(dir, "data"));
    await writeFile(join(dir, "data", "note.txt"), "v1");
    // The Debian base is built once per machine; every step over it is built here, in this test's own cache.
    await seedDebianBase(join(dir, "cache"));
    process.env.FERRY_IMAGE_CACHE = join(dir, "cache");
    process.env.FERRY_TEST_DEBIAN_DATA = join(dir, "data");
    process.env.FERRY_TEST_DEBIAN_NPM = JSON.stringify(NPM_V1);
    t = await startTestPlatform({ agents: 1 });
    first = await deploy(DEBIAN_APP, firstLog);
  }, 600_000);

  afterAll(async () => {
    for (const d of deployed) await d.dispose();
    await t?.stop();
    for (const k of ["FERRY_IMAGE_CACHE", "FERRY_TEST_DEBIAN_DATA", "FERRY_TEST_DEBIAN_NPM", "FERRY_TEST_OCI_LAYOUT"]) {
      if (env[k] === undefined) delete process.env[k];
      else process.env[k] = env[k];
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("runs with the image as its whole root: jq from apt, npm packages imported by bare name, the local directory", SLOW, async () => {
    expect(stepsRun(firstLog).map((l) => l.replace(/^\[\d+\/\d+\] /, "").split(" ")[0])).toEqual(["APT", "NPM"]);
    expect(await probeOf(first).remote()).toEqual({
      jq: "[1,2]", hour: 3_600_000, isNumber: [true, false], msVersion: "2.1.3", note: "v1", debian: true, user: "ferry",
    });
  });

  it("editing the local directory rebuilds nothing, and the new content is served", SLOW, async () => {
    await writeFile(join(dir, "data", "note.txt"), "v2");
    const log: string[] = [];
    const edited = await deploy(DEBIAN_APP, log);
    expect(stepsRun(log)).toEqual([]);
    expect(stepsCached(log)).toHaveLength(2);
    expect(edited.images[0].imageId).not.toBe(first.images[0].imageId);
    expect((await probeOf(edited).remote()).note).toBe("v2");
  });

  it("changing the npm dependencies rebuilds the npm step only: apt stays cached", SLOW, async () => {
    process.env.FERRY_TEST_DEBIAN_NPM = JSON.stringify(NPM_V2);
    const log: string[] = [];
    const changed = await deploy(DEBIAN_APP, log);
    expect(stepsCached(log)).toEqual([expect.stringMatching(/^\[1\/2\] CACHED APT jq$/)]);
    expect(stepsRun(log)).toEqual([expect.stringMatching(/^\[2\/2\] NPM install ms@2\.1\.2 is-number@7\.0\.0$/)]);
    const out = await probeOf(changed).remote();
    expect(out.msVersion).toBe("2.1.2");
    expect(out.hour).toBe(3_600_000);
  });

  it("an OCI layout exported from the Debian image runs as a base of its own", SLOW, async () => {
    const built = await buildImage(Image.debianSlim().aptInstall("jq").npmInstall(NPM_V1).toSpec(), { cacheDir: join(dir, "cache") });
    const layout = join(dir, "oci-layout");
    await exportOci(built, layout, { tag: "debian-e2e" });
    process.env.FERRY_TEST_OCI_LAYOUT = layout;
    const log: string[] = [];
    const onOci = await deploy(OCI_APP, log);
    expect(log.some((l) => l.startsWith("importing OCI image"))).toBe(true);
    const handle = onOci.discovered.functions.find((f) => f.name === "onOci")!.handle as unknown as { remote(): Promise<unknown> };
    expect(await handle.remote()).toEqual({ jq: "oci", msVersion: "2.1.3", debian: true });
  });
});
