import { describe, expect, it } from "vitest";
import { withPty, shellQuote } from "../src/sandboxes/exec-argv.ts";
import { enterArgv, exportLines, NSENTER_PATH } from "../src/sandboxes/nsenter-exec.ts";
import { lifetimeVerdict } from "../src/sandboxes/sandbox-lifetime.ts";

const base = { startedAt: 10_000, timeoutS: 60, idleTimeoutS: 0, runningExecs: 0, idleSince: 10_000 };

describe("a sandbox's lifetime", () => {
  it("ends at its timeout, running execs or not", () => {
    expect(lifetimeVerdict({ ...base, runningExecs: 3 }, 70_000)).toEqual({ end: "timeout: the sandbox reached its timeout of 60s" });
    expect(lifetimeVerdict(base, 69_999)).toEqual({ checkAt: 70_000 });
  });

  it("without an idle timeout, an idle sandbox lives until its timeout", () => {
    expect(lifetimeVerdict(base, 50_000)).toEqual({ checkAt: 70_000 });
  });

  it("ends after idleTimeout with no exec running, counted from the last exec's end", () => {
    const idle = { ...base, idleTimeoutS: 5, idleSince: 20_000 };
    expect(lifetimeVerdict(idle, 24_999)).toEqual({ checkAt: 25_000 });
    expect(lifetimeVerdict(idle, 25_000)).toEqual({ end: "idle timeout: no exec ran for 5s" });
  });

  it("never ends for idleness while an exec runs", () => {
    expect(lifetimeVerdict({ ...base, idleTimeoutS: 5, runningExecs: 1 }, 60_000)).toEqual({ checkAt: 70_000 });
  });

  it("the earlier of the two deadlines is the next look", () => {
    expect(lifetimeVerdict({ ...base, timeoutS: 12, idleTimeoutS: 5, idleSince: 18_000 }, 19_000)).toEqual({ checkAt: 22_000 });
  });
});

describe("exec command lines", () => {
  it("a pseudo-terminal wraps the command in script, quoted for sh", () => {
    expect(withPty(["bash", "-i"])).toEqual(["/usr/bin/script", "-q", "-f", "-e", "-c", "bash -i", "/dev/null"]);
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    expect(shellQuote("/plain/path-1.txt")).toBe("/plain/path-1.txt");
  });

  it("entering a function container joins its cgroups, then every namespace of its pid 1 as the sandbox user", () => {
    const argv = enterArgv(4242, ["/sys/fs/cgroup/pids/ferry/ct-1", "/sys/fs/cgroup/memory/ferry/ct-1"], ["cat", "/tmp/note"], "/opt/ferry/app");
    const separator = argv.indexOf("--");
    expect(argv.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(argv.slice(4, separator)).toEqual(["/sys/fs/cgroup/pids/ferry/ct-1", "/sys/fs/cgroup/memory/ferry/ct-1"]);
    expect(argv.slice(separator + 1)).toEqual([
      NSENTER_PATH, "-t", "4242", "-U", "-m", "-p", "-i", "-u", "-n", "-C", "-S", "1000", "-G", "1000", "-r", "-W", "/opt/ferry/app", "--",
      "/bin/sh", "-c", 'eval "$(cat <&3)"; exec 3<&-; exec "$@"', "ferry-exec", "cat", "/tmp/note",
    ]);
  });

  it("the entered process's environment travels as quoted export lines, never on a command line", () => {
    expect(exportLines({ PATH: "/usr/bin:/bin", GREETING: "it's \"quoted\"\nand multi-line", EMPTY: "", "NOT A NAME": "x" })).toBe(
      `export PATH=/usr/bin:/bin\nexport GREETING='it'\\''s "quoted"\nand multi-line'\nexport EMPTY=''\n`);
  });
});
