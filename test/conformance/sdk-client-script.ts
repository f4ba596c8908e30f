// Run by sdk-client.test.ts under Node, Bun and Deno: the SDK's client against a real platform
// (FERRY_URL, FERRY_TOKEN), one JSON line of what it saw on stdout.
import { Function, FunctionCall } from "ferry";

const square = await Function.lookup<[number], number>("conformance", "square");
const fail = await Function.lookup<[string], never>("conformance", "fail");

const remote = await square.remote(7);
const call = await square.spawn(6);
const spawned = await call.get();
const byId = await FunctionCall.fromId<number>(call.id).get();
const mapped: unknown[] = [];
for await (const v of square.map([1, 2, 3, 4])) mapped.push(v);
const error = await fail.remote("over quota").then(() => undefined, (e: Error) => ({ name: e.name, message: e.message, isError: e instanceof Error }));
const mappedErrors: unknown[] = [];
for await (const v of fail.map(["a", "b"], { returnExceptions: true })) mappedErrors.push(v instanceof Error ? v.message : v);
const missing = await Function.lookup("conformance", "no-such-function").then(() => undefined, (e: Error) => ({ name: e.name, status: (e as Error & { status?: number }).status }));

console.log(JSON.stringify({ remote, spawned, byId, mapped, error, mappedErrors, missing }));
