/** util-linux `script` gives a command a pseudo-terminal without any native module. */
export const SCRIPT_BINARY = "/usr/bin/script";

/** Quote one argument for `sh -c`. */
export const shellQuote = (arg: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

/**
 * The command line that runs `argv` on a fresh pseudo-terminal (`script -qfec CMD /dev/null`),
 * for interactive shells; `script` passes the command's exit status through.
 *
 * @example
 * ```ts
 * withPty(["bash", "-i"]); // ["/usr/bin/script", "-q", "-f", "-e", "-c", "bash -i", "/dev/null"]
 * ```
 */
export const withPty = (argv: ReadonlyArray<string>): string[] =>
  [SCRIPT_BINARY, "-q", "-f", "-e", "-c", argv.map(shellQuote).join(" "), "/dev/null"];
