/** What decides when a sandbox ends on its own. */
export interface SandboxLifetime {
  readonly startedAt: number;
  /** Seconds of life from start. */
  readonly timeoutS: number;
  /** Seconds without any exec running before it ends; 0 for never. */
  readonly idleTimeoutS: number;
  /** Execs running now. */
  readonly runningExecs: number;
  /** When the last exec ended, or the start when none ran yet. */
  readonly idleSince: number;
}

/** End now, and why; or look again at `checkAt` (epoch ms). */
export type LifetimeVerdict = { readonly end: string } | { readonly checkAt: number };

/**
 * Whether a sandbox must end now: its `timeout` passed (running execs or not), or its
 * `idleTimeout` passed with no exec running. Otherwise, when to look again.
 *
 * @example
 * ```ts
 * lifetimeVerdict({ startedAt: 0, timeoutS: 300, idleTimeoutS: 10, runningExecs: 0, idleSince: 0 }, 10_000);
 * // { end: "idle timeout: no exec ran for 10s" }
 * ```
 */
export const lifetimeVerdict = (s: SandboxLifetime, now: number): LifetimeVerdict => {
  const deadline = s.startedAt + s.timeoutS * 1000;
  if (now >= deadline) return { end: `timeout: the sandbox reached its timeout of ${s.timeoutS}s` };
  if (s.idleTimeoutS > 0 && s.runningExecs === 0) {
    const idleDeadline = s.idleSince + s.idleTimeoutS * 1000;
    if (now >= idleDeadline) return { end: `idle timeout: no exec ran for ${s.idleTimeoutS}s` };
    return { checkAt: Math.min(deadline, idleDeadline) };
  }
  return { checkAt: deadline };
};
