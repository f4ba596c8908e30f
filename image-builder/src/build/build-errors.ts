/**
 * Typed errors of an image build. Each message says which step failed and what to do.
 */

/**
 * A build step exited non-zero: carries its command, exit code and the tail of its log.
 *
 * @example
 * ```ts
 * try { await buildImage(spec, opts); } catch (e) { if (e instanceof BuildStepError) console.error(e.logTail); }
 * ```
 */
export class BuildStepError extends Error {
  readonly step: string;
  readonly command: string;
  readonly exitCode: number;
  readonly logTail: ReadonlyArray<string>;
  constructor(step: string, command: string, exitCode: number, logTail: ReadonlyArray<string>) {
    super(`image build step ${step} failed: command \`${command}\` exited with code ${exitCode}; last ${logTail.length} log lines:\n${logTail.join("\n")}\nFix the step and build again (steps before it stay cached).`);
    this.name = "BuildStepError";
    this.step = step;
    this.command = command;
    this.exitCode = exitCode;
    this.logTail = logTail;
  }
}

/** The build ran past its timeout: the running step was killed and nothing after it was built. */
export class BuildTimeoutError extends Error {
  readonly step: string;
  readonly timeoutMs: number;
  constructor(step: string, timeoutMs: number) {
    super(`image build exceeded its timeout of ${timeoutMs / 1000} s during step ${step}; the step was stopped. Raise the build timeout or make the step faster (finished steps stay cached).`);
    this.name = "BuildTimeoutError";
    this.step = step;
    this.timeoutMs = timeoutMs;
  }
}

/** A local input (addLocalDir/addLocalFile/npm project) cannot be used: missing, wrong type, or a symlink escaping it. */
export class LocalInputError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`local image input ${path}: ${problem}`);
    this.name = "LocalInputError";
    this.path = path;
  }
}

/** The spec itself is unusable (an unknown step, a relative remote path, a missing tool on this host...). */
export class ImageSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageSpecError";
  }
}
