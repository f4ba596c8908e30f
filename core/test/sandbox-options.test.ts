import { describe, expect, it } from "vitest";
import { decodeAt } from "../src/domain/decode.ts";
import { Limits } from "../src/limits/limits.ts";
import { CreateSandboxRequest, ExecRequest, resolveSandboxOptions, sandboxPlacementOptions, StdinChunk } from "../src/sandboxes/sandbox-options.ts";
import { execStreamOf, SandboxSubjects } from "../src/sandboxes/sandbox-subjects.ts";

const fieldOf = (schema: Parameters<typeof decodeAt>[0], value: unknown): string | undefined => {
  const r = decodeAt(schema, value, "body");
  return r._tag === "Failure" ? r.failure.field : undefined;
};

describe("sandbox options", () => {
  it("fill in defaults: 300 s, no idle timeout, 512 MiB held as a hard limit, no CPU quota, /workspace", () => {
    expect(resolveSandboxOptions({ app: "demo" })).toEqual({
      timeoutS: Limits.defaultSandboxTimeoutS, idleTimeoutS: 0, gpu: [], cpu: 0.125, cpuLimit: 0, memoryMiB: 512,
      regions: [], clouds: [], network: "outbound", workdir: "/workspace", env: {},
    });
  });

  it("an asked-for CPU is both reserved and enforced as a quota", () => {
    const o = resolveSandboxOptions({ app: "demo", cpu: 2, memory: 2048, timeout: 60, idleTimeout: 10, gpu: "H100" });
    expect(o).toMatchObject({ cpu: 2, cpuLimit: 2, memoryMiB: 2048, timeoutS: 60, idleTimeoutS: 10, gpu: ["H100"] });
  });

  it("a sandbox mirroring a function takes its resources unless it names its own, and works in its app dir", () => {
    const fn = { gpu: ["A100-80GB:2"], cpu: 4, memory: 8192, region: "us-east", cloud: "lambda" };
    expect(resolveSandboxOptions({ app: "demo" }, fn)).toMatchObject({
      gpu: ["A100-80GB:2"], cpu: 4, cpuLimit: 4, memoryMiB: 8192, regions: ["us-east"], clouds: ["lambda"], workdir: "/opt/ferry/app",
    });
    expect(resolveSandboxOptions({ app: "demo", memory: 1024, workdir: "/tmp" }, fn)).toMatchObject({ memoryMiB: 1024, workdir: "/tmp" });
    // A function that leaves memory out gets the sandbox default, not the function default of 128 MiB.
    expect(resolveSandboxOptions({ app: "demo" }, {}).memoryMiB).toBe(512);
  });

  it("a built image brings its env, root kind and working directory; /workspace stays the default when it sets none", () => {
    const id = "a".repeat(64);
    const o = resolveSandboxOptions({ app: "demo", imageId: id, imageEnv: { MODE: "x" }, imageWorkdir: "/srv", imageRoot: "full" });
    expect(o).toMatchObject({ workdir: "/srv", env: {}, image: { id, env: { MODE: "x" }, workdir: "/srv", root: "full" } });
    expect(resolveSandboxOptions({ app: "demo", imageId: id, imageWorkdir: "/" })).toMatchObject({ workdir: "/workspace", image: { id, env: {}, workdir: "/" } });
    expect(resolveSandboxOptions({ app: "demo", imageId: id, imageWorkdir: "/srv", workdir: "/tmp" }).workdir).toBe("/tmp");
    // Its placement options carry the image to the agent, as a function container's do.
    expect(sandboxPlacementOptions(o).image).toEqual({ id, env: { MODE: "x" }, workdir: "/srv", root: "full" });
    expect(sandboxPlacementOptions(resolveSandboxOptions({ app: "demo" })).image).toBeUndefined();
  });

  it("a sandbox mirroring a function with a built image starts from that image, in the app dir", () => {
    const id = "b".repeat(64);
    expect(resolveSandboxOptions({ app: "demo" }, { imageId: id, imageWorkdir: "/app", imageEnv: { A: "1" } })).toMatchObject({
      workdir: "/opt/ferry/app", image: { id, env: { A: "1" }, workdir: "/app" },
    });
  });

  it("are placed as one container of a function asking for the same resources", () => {
    const placed = sandboxPlacementOptions(resolveSandboxOptions({ app: "demo", cpu: 1, memory: 1024, gpu: ["L4"], region: ["eu-west"] }));
    expect(placed).toMatchObject({ cpu: 1, memory: 1024, gpu: ["L4"], regions: ["eu-west"], maxContainers: 1, retries: { maxRetries: 0 } });
  });

  it("bad requests name the field at fault", () => {
    expect(fieldOf(CreateSandboxRequest, { app: "demo", timeout: 0 })).toBe("body.timeout");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", idleTimeout: Limits.maxSandboxTimeoutS + 1 })).toBe("body.idleTimeout");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", memory: 10 })).toBe("body.memory");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", workdir: "/a/../etc" })).toBe("body.workdir");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", env: { "BAD NAME": "x" } })).toBe("body.env");
    expect(fieldOf(CreateSandboxRequest, { app: "" })).toBe("body.app");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", workdir: "/srv/data", env: { A_B: "1" } })).toBeUndefined();
    expect(fieldOf(CreateSandboxRequest, { app: "demo", imageId: "not-an-id" })).toBe("body.imageId");
    expect(fieldOf(CreateSandboxRequest, { app: "demo", imageId: "c".repeat(64), imageRoot: "half" })).toBe("body.imageRoot");
    expect(fieldOf(ExecRequest, { command: [] })).toBe("body.command");
    expect(fieldOf(ExecRequest, { command: ["echo", "a\0b"] })).toBe("body.command[1]");
    expect(fieldOf(StdinChunk, { data: "not base64!" })).toBe("body.data");
    expect(fieldOf(StdinChunk, { data: "aGk=", eof: true })).toBeUndefined();
  });
});

describe("exec subjects", () => {
  it("carry the target and exec ids, and a reader's subjects leave stdin out", () => {
    expect(SandboxSubjects.stdin("sb-1", "ex-2")).toBe("ferry.sbx.sb-1.ex-2.stdin");
    expect(SandboxSubjects.outputs("sb-1", "ex-2")).toEqual(["ferry.sbx.sb-1.ex-2.stdout", "ferry.sbx.sb-1.ex-2.stderr", "ferry.sbx.sb-1.ex-2.exit"]);
    expect(execStreamOf("ferry.sbx.sb-1.ex-2.exit")).toBe("exit");
    expect(execStreamOf("ferry.sbx.sb-1.ex-2.other")).toBeUndefined();
  });
});
