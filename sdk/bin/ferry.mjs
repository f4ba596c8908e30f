#!/usr/bin/env node
// The `ferry` CLI. Node ≥ 22.19 runs the TypeScript sources directly (type stripping).
// Each lazy image mount's reader holds one libuv threadpool thread in a blocking read of
// /dev/fuse; the default pool of 4 would let a few mounts starve every other file operation.
// Set before anything uses the pool (hence the dynamic import below).
process.env.UV_THREADPOOL_SIZE ??= "64";
const { main } = await import("../src/cli/main.ts");

main(process.argv.slice(2));
