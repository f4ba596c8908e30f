/** One line per event; errors are one line on stderr with a hint, stacks only with --verbose. */
export const cliState = { verbose: false };

export const info = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export const reportError = (e: unknown): void => {
  const err = e instanceof Error ? e : new Error(String(e));
  const inputId = (err as { inputId?: string }).inputId;
  process.stderr.write(`error: ${err.name && err.name !== "Error" ? `${err.name}: ` : ""}${err.message}${inputId ? ` (input ${inputId})` : ""}\n`);
  if (cliState.verbose && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
};

/** Print rows as an aligned table. */
export const printTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): void => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
};

/** A function's result as one line of JSON (BigInts as `123n`). */
export const resultJson = (value: unknown): string => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
