// Agents' fast path doors that live in this process, so that an edge in the same process (the
// local platform, `ferry up`, the tests) reaches them in memory instead of over loopback TCP. An
// edge still names the agent the region said runs the function, and still proves itself with the
// platform's internal token: a door is only handed to the edge of the same platform.
import type { LocalChannel } from "./endpoint-channel.ts";

/** An agent's door as an edge in the same process opens it. */
export interface InProcessDoor {
  readonly agentId: string;
  /** `host:port` the agent's fast path listens on (what the region's routes name). */
  readonly address: string;
  /** The platform's internal token. */
  readonly internalToken: string;
  /** Serve a new connection: the agent's end of it. */
  connect(agentEnd: LocalChannel): void;
}

const doors = new Map<string, InProcessDoor>();

/** Compares in time that does not depend on where the strings differ (no `node:crypto` here: the edge runs on Workers too). */
const sameToken = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
};

/**
 * The registry of in-process doors.
 *
 * @example
 * ```ts
 * inProcessDoors.add(door);                      // the agent, when it listens
 * inProcessDoors.find(agentId, address, token);  // the edge, when it opens a link
 * inProcessDoors.remove(door);                   // the agent, when it closes
 * ```
 */
export const inProcessDoors = {
  add(door: InProcessDoor): void {
    doors.set(door.agentId, door);
  },
  remove(door: InProcessDoor): void {
    if (doors.get(door.agentId) === door) doors.delete(door.agentId);
  },
  /** The door of agent `agentId` at `address`, if it runs in this process for the platform whose internal token is `token`. */
  find(agentId: string, address: string, token: string): InProcessDoor | undefined {
    const door = doors.get(agentId);
    return door && door.address === address && sameToken(door.internalToken, token) ? door : undefined;
  },
};
