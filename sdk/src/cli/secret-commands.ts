import { readFile } from "node:fs/promises";
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { FerryClient } from "../client/ferry-client.ts";
import { parseDotenv } from "../secrets/parse-dotenv.ts";
import { printTable, reportError } from "./cli-output.ts";

const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));

interface SecretListing { name: string; keys: string[]; createdAt: number; updatedAt: number }

/** Read all of stdin (pairs piped in, so no value need appear on the command line). */
const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

/**
 * The variables of `ferry secret create`, later sources winning: `--from-dotenv` files, then
 * `--from-env` variables of this shell, then `KEY=value` arguments, then `KEY=value` lines on
 * stdin (read when `-` is given, or when nothing else is and stdin is not a terminal).
 */
const gatherValues = async (o: { pairs: ReadonlyArray<string>; dotenv: ReadonlyArray<string>; fromEnv: ReadonlyArray<string> }): Promise<Record<string, string>> => {
  const values: Record<string, string> = {};
  for (const file of o.dotenv) Object.assign(values, parseDotenv(await readFile(file, "utf8"), file));
  for (const name of o.fromEnv) {
    const v = process.env[name];
    if (v === undefined) throw new Error(`--from-env ${name}: ${name} is not set in this shell`);
    values[name] = v;
  }
  const pairs = o.pairs.filter((p) => p !== "-");
  for (const [i, pair] of pairs.entries()) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`argument ${i + 2} is not KEY=value (pipe values on stdin, or use --from-dotenv / --from-env to keep them off the command line)`);
    values[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const nothingElse = o.dotenv.length === 0 && o.fromEnv.length === 0 && pairs.length === 0;
  if (o.pairs.includes("-") || (nothingElse && !process.stdin.isTTY)) Object.assign(values, parseDotenv(await readStdin(), "stdin"));
  if (Object.keys(values).length === 0) throw new Error("no variables given: pass KEY=value pairs on stdin, --from-dotenv FILE or --from-env VAR");
  return values;
};

const create = Command.make("create", {
  name: Argument.String("name"),
  pairs: Argument.String("KEY=value").pipe(Argument.withDescription("Variables; `-` reads KEY=value lines from stdin"), Argument.variadic()),
  dotenv: Flag.String("from-dotenv").pipe(Flag.withDescription("Read KEY=value lines from a .env file"), Flag.atLeast(0)),
  fromEnv: Flag.String("from-env").pipe(Flag.withDescription("Take this variable from the current environment"), Flag.atLeast(0)),
  force: Flag.Boolean("force").pipe(Flag.withDescription("Replace the variables of an existing secret"), Flag.withDefault(false)),
}, action(async ({ name, pairs, dotenv, fromEnv, force }) => {
  const values = await gatherValues({ pairs, dotenv, fromEnv });
  const client = await FerryClient.fromEnvironment();
  const s = await client.request<SecretListing>("POST", "/v1/secrets", { name, values, overwrite: force });
  process.stdout.write(`created secret ${s.name} (${s.keys.join(", ")})\n`);
})).pipe(Command.withDescription("Create a secret from KEY=value pairs on stdin, a .env file or this shell's environment"));

const list = Command.make("list", { json }, action(async ({ json }) => {
  const { secrets } = await (await FerryClient.fromEnvironment()).request<{ secrets: SecretListing[] }>("GET", "/v1/secrets");
  if (json) return void process.stdout.write(`${JSON.stringify(secrets)}\n`);
  printTable(["NAME", "KEYS", "CREATED", "UPDATED"], secrets.map((s) => [s.name, s.keys.join(","), new Date(s.createdAt).toISOString(), new Date(s.updatedAt).toISOString()]));
})).pipe(Command.withDescription("List secrets: names and variable names, never values"));

const remove = Command.make("delete", { name: Argument.String("name") }, action(async ({ name }) => {
  await (await FerryClient.fromEnvironment()).request("DELETE", `/v1/secrets/${encodeURIComponent(name)}`);
  process.stdout.write(`deleted secret ${name}\n`);
})).pipe(Command.withDescription("Delete a secret (running containers keep their variables)"));

/** `ferry secret create / list / delete`. */
export const secretCommand = Command.make("secret").pipe(
  Command.withDescription("Secrets: environment variables for functions, stored encrypted"),
  Command.withSubcommands([create, list, remove]),
);
