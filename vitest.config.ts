import { defineConfig } from "vitest/config";

// Test workers host agents whose lazy image mounts each hold a libuv threadpool thread (a blocking
// read of /dev/fuse): give the forked workers a pool that a few mounts cannot starve (see sdk/bin/ferry.mjs).
process.env.UV_THREADPOOL_SIZE ??= "64";

export default defineConfig({
  test: {
    include: ["*/test/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites start real nats-server, libSQL, HTTP/gRPC servers and sandboxes; two cores here.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
