/**
 * The sandbox module: one container = one bubblewrap sandbox with an image of read-only binds,
 * private /proc, /dev and /tmp, no network or outbound-only network (slirp4netns), a control
 * channel on fd 3 and optional cgroup limits.
 */
export * from "./bwrap-args.ts";
export * from "./image.ts";
export * from "./cgroup.ts";
export * from "./sandbox.ts";
export * from "./outbound-network.ts";
