import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Function } from "ferry";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { hasMmdebstrap, seedDebianBase } from "../fixtures/debian-base.ts";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const DEBIAN_APP = join(REPO_ROOT, "test/fixtures/apps/debian-app.ts");
const OCI_APP = join(REPO_ROOT, "test/fixtures/apps/oci-app.ts");
const execFileAsync = promisify(execFile);
const NPM_V1 = { ms: "2.1.3", "is-number": "7.0.0" };
const NPM_V2 = { ms: "2.1.2", "is-number": "7.0.0" };
/** Builds run apt and npm against Debian's archive and the npm registry: generous limits. */
const SLOW = { timeout: 600_000 };

type Probe = { jq: string; hour: number; isNumber: boolean[]; msVersion: string; note: string; debian: boolean; user: string };
/** Build steps that ran (not CACHED), by their log lines: "[2/2] NPM install …". */
const stepsRun = (lines: ReadonlyArray<string>) => lines.filter((l) => /^\[\d+\/\d+\] (APT|NPM|RUN|COPY)/.test(l));
const stepsCached = (lines: ReadonlyArray<string>) => lines.filter((l) => /^\[\d+\/\d+\] CACHED/.test(l));

if (!hasMmdebstrap()) console.warn("images-debian.test.ts skipped: Image.debianSlim() needs mmdebstrap (apt-get install -y mmdebstrap)");

describe.skipIf(!hasMmdebstrap())("functions on a Debian image (skipped without mmdebstrap)", () => {
  let t: TestPlatform;
  let dir: string;
  let firstLog: string[];
  let env: NodeJS.ProcessEnv;

  /**
   * `ferry deploy FILE` as its own process, as users run it: the build's heavy file work never
   * stalls this process, which hosts the platform's region and agent. Returns the progress lines.
   */
  const deploy = async (file: string, extra: NodeJS.ProcessEnv = {}): Promise<string[]> => {
    const r = await runCli(["deploy", file], { ...env, ...extra }, 540_000);
    if (r.code !== 0) throw new Error(`ferry deploy ${file} exited with ${r.code}: ${r.stderr.slice(-2000)}`);
    return r.stderr.split("\n");
  };
  const probe = async () => (await Function.lookup<[], Probe>("debian-e2e", "probe")).remote();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-debian-e2e-"));
    await mkdir(join(dir, "data"));
    await writeFile(join(dir, "data", "note.txt"), "v1");
    // The Debian base is built once per machine; every step over it is built here, in this test's own cache.
    await seedDebianBase(join(dir, "cache"));
    t = await startTestPlatform({ agents: 1 });
    env = { ...t.env, FERRY_IMAGE_CACHE: join(dir, "cache"), FERRY_TEST_DEBIAN_DATA: join(dir, "data"), FERRY_TEST_DEBIAN_NPM: JSON.stringify(NPM_V1) };
    firstLog = await deploy(DEBIAN_APP);
  }, 600_000);

  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs with the image as its whole root: jq from apt, npm packages imported by bare name, the local directory", SLOW, async () => {
    expect(stepsRun(firstLog).map((l) => l.replace(/^\[\d+\/\d+\] /, "").split(" ")[0])).toEqual(["APT", "NPM"]);
    expect(await probe()).toEqual({
      jq: "[1,2]", hour: 3_600_000, isNumber: [true, false], msVersion: "2.1.3", note: "v1", debian: true, user: "ferry",
    });
  });

  it("editing the local directory rebuilds nothing, and the new content is served", SLOW, async () => {
    await writeFile(join(dir, "data", "note.txt"), "v2");
    const log = await deploy(DEBIAN_APP);
    expect(stepsRun(log)).toEqual([]);
    expect(stepsCached(log)).toHaveLength(2);
    expect((await probe()).note).toBe("v2");
  });

  it("changing the npm dependencies rebuilds the npm step only: apt stays cached", SLOW, async () => {
    const log = await deploy(DEBIAN_APP, { FERRY_TEST_DEBIAN_NPM: JSON.stringify(NPM_V2) });
    expect(stepsCached(log)).toEqual(["[1/2] CACHED APT jq"]);
    expect(stepsRun(log)).toEqual(["[2/2] NPM install ms@2.1.2 is-number@7.0.0"]);
    const out = await probe();
    expect(out.msVersion).toBe("2.1.2");
    expect(out.hour).toBe(3_600_000);
  });

  it("an OCI layout exported from the Debian image runs as a base of its own", SLOW, async () => {
    const layout = join(dir, "oci-layout");
    // In its own process: the export's synchronous work must not stall the platform this process hosts.
    await execFileAsync(process.execPath, [join(REPO_ROOT, "test/fixtures/export-debian-oci.ts"), join(dir, "cache"), layout, JSON.stringify(NPM_V1)], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    const log = await deploy(OCI_APP, { FERRY_TEST_OCI_LAYOUT: layout });
    expect(log.some((l) => l.startsWith("importing OCI image"))).toBe(true);
    const onOci = await Function.lookup<[], unknown>("oci-e2e", "onOci");
    expect(await onOci.remote()).toEqual({ jq: "oci", msVersion: "2.1.3", debian: true });
  });
});
