/** Each caught lie divides an agent's standing by this. */
export const LIE_PENALTY_FACTOR = 2;
/** Standing recovers linearly to full over this long without another lie. */
export const REPUTATION_RECOVERY_MS = 10 * 60_000;
/** An agent's standing never drops below this, so it still wins when it is the only one. */
const MIN_REPUTATION = 1 / 64;

/**
 * How far the broker trusts each agent's bids, in (0, 1]. An agent that wins an auction and then
 * cannot start the container for want of the capacity it bid (a lie, or a stale view) is
 * penalised; its bids' scores are divided by its reputation, so it loses to honest equals.
 *
 * @example
 * ```ts
 * const rep = new Reputation();
 * rep.penalize("ag-1");
 * rep.of("ag-1"); // 0.5
 * ```
 */
export class Reputation {
  private readonly penalties = new Map<string, { level: number; at: number }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Current standing of `agentId`: 1 for agents never caught. */
  of(agentId: string): number {
    const p = this.penalties.get(agentId);
    if (!p) return 1;
    const recovered = (this.now() - p.at) / REPUTATION_RECOVERY_MS;
    if (recovered >= 1) {
      this.penalties.delete(agentId);
      return 1;
    }
    return p.level + (1 - p.level) * recovered;
  }

  penalize(agentId: string): void {
    this.penalties.set(agentId, { level: Math.max(MIN_REPUTATION, this.of(agentId) / LIE_PENALTY_FACTOR), at: this.now() });
  }
}
