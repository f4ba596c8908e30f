/**
 * Lazy image loading through FUSE: a read-only file system served by the agent over /dev/fuse,
 * fetching a file's bytes on first read and logging which files were read for prefetch.
 */
export * from "./lazy-source.ts";
export * from "./lazy-tree.ts";
export * from "./fuse-protocol.ts";
export * from "./lazy-fuse-handler.ts";
export * from "./lazy-mount.ts";
