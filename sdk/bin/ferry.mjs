#!/usr/bin/env node
// The `ferry` CLI. Node ≥ 22.19 runs the TypeScript sources directly (type stripping).
import { main } from "../src/cli/main.ts";

main(process.argv.slice(2));
