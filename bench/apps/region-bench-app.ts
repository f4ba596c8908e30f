import { App } from "ferry";

export const app = new App("failover-bench");

/** Answers with the region it ran in. */
export const where = app.function({ timeout: 30, scaledownWindow: 600 }, async (x: number) => ({ region: process.env.FERRY_REGION ?? "", x }));
