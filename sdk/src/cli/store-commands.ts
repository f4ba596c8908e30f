// `ferry dict …` and `ferry queue …`: manage the workspace's Dicts and Queues from a terminal.
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { FerryClient } from "../client/ferry-client.ts";
import { Dict } from "../stores/dict.ts";
import { Queue } from "../stores/queue.ts";
import { printTable, reportError, resultJson } from "./cli-output.ts";

/** Run a handler; failures print one line (stack with --verbose) and set a non-zero exit code. */
const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));
const partition = Flag.String("partition").pipe(Flag.withDescription("Partition key (default: the default partition)"), Flag.optional);
const name = Argument.String("name");
const say = (line: string) => void process.stdout.write(`${line}\n`);

/** A value given on the command line: JSON, parsed (a typo must not be stored as a string). */
const parseValue = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${text} (${(e as Error).message}); quote strings as JSON, e.g. '"hello"'`);
  }
};

interface Listed { readonly name: string; readonly createdAt: number }
const list = (kind: "dicts" | "queues") => Command.make("list", { json }, action(async ({ json }) => {
  const body = await (await FerryClient.fromEnvironment()).request<Record<string, Listed[]>>("GET", `/v1/${kind}`);
  const items = body[kind] ?? [];
  if (json) return say(JSON.stringify(items));
  printTable(["NAME", "CREATED"], items.map((d) => [d.name, new Date(d.createdAt).toISOString()]));
}));

const dict = async (n: string, createIfMissing = false) => Dict.fromName(n, { client: await FerryClient.fromEnvironment(), createIfMissing });
const queue = async (n: string, createIfMissing = false) => Queue.fromName(n, { client: await FerryClient.fromEnvironment(), createIfMissing });

const dictCreate = Command.make("create", { name }, action(async ({ name }) => {
  await (await dict(name, true)).len();
  say(`dict ${name} is ready`);
}));
const dictGet = Command.make("get", { name, key: Argument.String("key") }, action(async ({ name, key }) => {
  const d = await dict(name);
  const missing = Symbol("missing");
  const value = await d.get(key, missing);
  if (value === missing) throw new Error(`no key ${JSON.stringify(key)} in dict ${name}`);
  say(resultJson(value));
}));
const dictPut = Command.make("put", {
  name, key: Argument.String("key"), value: Argument.String("json").pipe(Argument.withDescription("The value, as JSON")),
  ttl: Flag.Finite("ttl").pipe(Flag.withDescription("Seconds until the entry expires"), Flag.optional),
}, action(async ({ name, key, value, ttl }) => {
  await (await dict(name)).put(key, parseValue(value), { ttl: Option.getOrUndefined(ttl) });
  say(`put ${JSON.stringify(key)} in dict ${name}`);
}));
const dictDelete = Command.make("delete", { name, key: Argument.String("key") }, action(async ({ name, key }) => {
  const deleted = await (await dict(name)).delete(key);
  say(deleted ? `deleted ${JSON.stringify(key)} from dict ${name}` : `no key ${JSON.stringify(key)} in dict ${name}`);
}));
const dictKeys = Command.make("keys", { name, json }, action(async ({ name, json }) => {
  const keys = await (await dict(name)).keys();
  say(json ? JSON.stringify(keys) : keys.join("\n"));
}));
const dictClear = Command.make("clear", { name }, action(async ({ name }) => {
  await (await dict(name)).clear();
  say(`cleared dict ${name}`);
}));
const dictRm = Command.make("rm", { name }, action(async ({ name }) => {
  await Dict.delete(name, { client: await FerryClient.fromEnvironment() });
  say(`deleted dict ${name}`);
}));

/** `ferry dict list|create|get|put|delete|keys|clear|rm`. */
export const dictCommand = Command.make("dict").pipe(
  Command.withDescription("Dicts: named key-value stores"),
  Command.withSubcommands([list("dicts"), dictCreate, dictGet, dictPut, dictDelete, dictKeys, dictClear, dictRm]),
);

const queueCreate = Command.make("create", { name }, action(async ({ name }) => {
  await (await queue(name, true)).len();
  say(`queue ${name} is ready`);
}));
const queuePut = Command.make("put", { name, value: Argument.String("json").pipe(Argument.withDescription("The item, as JSON")), partition }, action(async ({ name, value, partition }) => {
  await (await queue(name)).put(parseValue(value), { partition: Option.getOrUndefined(partition) });
  say(`put 1 item in queue ${name}`);
}));
const queueGet = Command.make("get", {
  name, partition,
  timeout: Flag.Finite("timeout").pipe(Flag.withDescription("Seconds to wait for an item (default 0: answer at once)"), Flag.withDefault(0)),
}, action(async ({ name, partition, timeout }) => {
  const items = await (await queue(name)).getMany(1, { timeout, partition: Option.getOrUndefined(partition) });
  if (items.length === 0) throw new Error(`queue ${name} had no item${timeout > 0 ? ` within ${timeout}s` : ""}`);
  say(resultJson(items[0]));
}));
const queueLen = Command.make("len", {
  name, partition, total: Flag.Boolean("total").pipe(Flag.withDescription("Count every partition"), Flag.withDefault(false)),
}, action(async ({ name, partition, total }) => {
  say(String(await (await queue(name)).len({ partition: Option.getOrUndefined(partition), total })));
}));
const queueClear = Command.make("clear", {
  name, partition, all: Flag.Boolean("all").pipe(Flag.withDescription("Clear every partition"), Flag.withDefault(false)),
}, action(async ({ name, partition, all }) => {
  await (await queue(name)).clear({ partition: Option.getOrUndefined(partition), all });
  say(`cleared queue ${name}`);
}));
const queueRm = Command.make("rm", { name }, action(async ({ name }) => {
  await Queue.delete(name, { client: await FerryClient.fromEnvironment() });
  say(`deleted queue ${name}`);
}));

/** `ferry queue list|create|put|get|len|clear|rm`. */
export const queueCommand = Command.make("queue").pipe(
  Command.withDescription("Queues: named FIFO queues with partitions"),
  Command.withSubcommands([list("queues"), queueCreate, queuePut, queueGet, queueLen, queueClear, queueRm]),
);
