/** A mounted (copy: false) local file or directory step. */
export interface MountedAfterBuildStep {
  readonly kind: "addLocalDir" | "addLocalFile";
  readonly local: string;
  readonly remote: string;
  readonly copy: boolean;
}

/**
 * A build step follows a local file mounted at start: the step could not see the file, so the
 * order is refused when the image is defined.
 *
 * @example
 * ```ts
 * Image.base("ferry/node").addLocalDir("./src", "/src").runCommands("ls /src"); // throws
 * ```
 */
export class ImageStepOrderError extends Error {
  constructor(mounted: MountedAfterBuildStep, next: string) {
    super(`${next} cannot follow ${mounted.kind}("${mounted.local}", "${mounted.remote}"): local files are mounted when a container starts, so build steps never see them; pass { copy: true } to bake them into a layer, or move the ${mounted.kind} after the build steps`);
    this.name = "ImageStepOrderError";
  }
}
