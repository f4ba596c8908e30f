/** A line of a dotenv text that is not `KEY=value`: its 1-based number (never its content, which may hold a value). */
export class DotenvSyntaxError extends Error {
  override name = "DotenvSyntaxError";
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

/**
 * Parse `KEY=value` lines, as in a `.env` file or on `ferry secret create`'s stdin: blank lines
 * and `#` comments are skipped, `export ` is allowed, values may be bare (an inline ` #comment`
 * ends them), single-quoted (literal) or double-quoted (with `\n`, `\t`, `\"` escapes). A later
 * line wins over an earlier one. Errors name the line, never its content.
 *
 * @example
 * ```ts
 * parseDotenv('A=1\nexport B="two words" # note\n'); // { A: "1", B: "two words" }
 * ```
 */
export const parseDotenv = (text: string, source = "input"): Record<string, string> => {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const m = LINE.exec(line);
    if (!m) throw new DotenvSyntaxError(`${source}, line ${i + 1}: expected KEY=value`);
    const [, key, raw] = m as unknown as [string, string, string];
    let value: string;
    if (raw.startsWith('"')) {
      const end = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(raw);
      if (!end) throw new DotenvSyntaxError(`${source}, line ${i + 1}: unterminated double-quoted value of ${key}`);
      value = end[1]!.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? `\\${c}`);
    } else if (raw.startsWith("'")) {
      const end = /^'([^']*)'\s*(#.*)?$/.exec(raw);
      if (!end) throw new DotenvSyntaxError(`${source}, line ${i + 1}: unterminated single-quoted value of ${key}`);
      value = end[1]!;
    } else {
      value = raw.replace(/\s+#.*$/, "").trim();
    }
    out[key] = value;
  });
  return out;
};
