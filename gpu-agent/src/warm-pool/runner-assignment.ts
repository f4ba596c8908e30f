/**
 * The runner's side of the warm pool: a runner started in a pre-started sandbox (marked by
 * `WARM_POOL_ENV` in its environment) waits for one `assign` message, which sets the container's
 * environment, before it loads any app. Bundled into the runner: imports nothing from the platform.
 */

/** Set to "1" in a pre-started sandbox's environment; the runner removes it before any app code runs. */
export const WARM_POOL_ENV = "FERRY_WARM_POOL";

/**
 * Whether a runner may load an app yet, and the one assignment of a pooled runner.
 *
 * @example
 * ```ts
 * const assignment = new RunnerAssignment(process.env); // a pooled runner: waits for assign
 * assignment.assign({ FERRY_APP: "shop", API_KEY: "…" }); // process.env now has them
 * assignment.loadBlocker(); // undefined: the app may load
 * ```
 */
export class RunnerAssignment {
  /** Started in a warm pool sandbox, so an `assign` must come before the `load`. */
  readonly pooled: boolean;
  private readonly env: NodeJS.ProcessEnv;
  private assigned = false;
  private problem: string | undefined;

  constructor(env: NodeJS.ProcessEnv) {
    this.env = env;
    this.pooled = env[WARM_POOL_ENV] === "1";
    // User code never sees it: the same environment as a sandbox started for the container.
    delete env[WARM_POOL_ENV];
  }

  /**
   * Take the container's environment (secrets, FERRY_* variables, the image's env): set in this
   * process's environment before the app is imported. Only a pooled runner, only once; anything
   * else makes the next `load` fail.
   */
  assign(vars: Readonly<Record<string, string>>): void {
    if (!this.pooled) this.problem = "this runner was not started in a warm pool sandbox";
    else if (this.assigned) this.problem = "this warm pool sandbox was already assigned to a container";
    if (this.problem) return;
    for (const [name, value] of Object.entries(vars)) this.env[name] = value;
    this.assigned = true;
  }

  /** Why a `load` cannot go ahead (a pooled runner not assigned yet, a bad assign), or undefined. */
  loadBlocker(): string | undefined {
    if (this.problem) return this.problem;
    if (this.pooled && !this.assigned) return "this warm pool sandbox got no assignment before its load";
    return undefined;
  }
}
