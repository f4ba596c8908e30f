import { describe, expect, it } from "vitest";
import { DotenvSyntaxError, parseDotenv } from "../src/secrets/parse-dotenv.ts";

describe("parseDotenv", () => {
  it("reads bare, quoted and exported values, skipping comments and blank lines", () => {
    const text = [
      "# a comment",
      "",
      "A=1",
      "export B=two words # trailing comment",
      'C="line\\nbreak \\"quoted\\""',
      "D='literal $HOME \\n'",
      "E=",
      "A=later wins",
      "URL=https://x.test/#anchor",
    ].join("\n");
    expect(parseDotenv(text)).toEqual({
      A: "later wins", B: "two words", C: 'line\nbreak "quoted"', D: "literal $HOME \\n", E: "", URL: "https://x.test/#anchor",
    });
  });

  it("reports a bad line by number, never by its content", () => {
    const e = (() => {
      try {
        parseDotenv("A=1\nnot a pair hunter2\n", ".env");
      } catch (x) {
        return x as Error;
      }
    })();
    expect(e).toBeInstanceOf(DotenvSyntaxError);
    expect(e?.message).toBe(".env, line 2: expected KEY=value");
    expect(() => parseDotenv('K="unterminated')).toThrow(/line 1: unterminated double-quoted value of K/);
  });
});
