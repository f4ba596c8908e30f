// Run it: npx ferry run examples/hello.ts
import { App, FunctionCall } from "ferry";

export const app = new App("hello");

/** Runs in a sandboxed container; its console output streams back tagged with the container. */
export const square = app.function({ timeout: 30 }, async (x: number) => {
  console.log(`squaring ${x} in ${process.env.FERRY_CONTAINER_ID}`);
  return x * x;
});

export const greet = app.function({}, (name: string, when: Date) => ({
  greeting: `hello, ${name}`,
  weekday: when.toLocaleDateString("en", { weekday: "long", timeZone: "UTC" }),
  sandboxHost: process.env.FERRY_CONTAINER_ID,
}));

app.local(async () => {
  console.log("square.remote(7) =", await square.remote(7));

  const squares: number[] = [];
  for await (const y of square.map([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) squares.push(y);
  console.log("square.map(1..10) =", squares.join(" "));

  const call = await greet.spawn("ferry", new Date("2026-11-27T12:00:00Z"));
  console.log("spawned", call.id);
  console.log("FunctionCall.fromId(id).get() =", await FunctionCall.fromId<Awaited<ReturnType<typeof greet.local>>>(call.id).get({ timeout: 30 }));
});
