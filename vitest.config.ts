import { defineConfig } from "vitest/config";

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
