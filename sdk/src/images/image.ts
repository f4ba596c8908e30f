import type { ImageBase, ImageSpec, ImageStep } from "@ferry/core";
import { resolve } from "node:path";
import { ImageStepOrderError, type MountedAfterBuildStep } from "./image-errors.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's). */
export const IMAGE_BRAND = Symbol.for("ferry.image");

/** A handle whose `name` the builder looks up in the app's module (a `FerryFunction`). */
export interface NamedFunction {
  readonly name?: string;
}

/** Options of `addLocalDir` / `addLocalFile`. */
export interface AddLocalOptions {
  /**
   * Bake the files into a layer (later steps see them; editing them rebuilds that layer and every
   * later one). Default false: the files are mounted when a container starts, so editing them
   * rebuilds nothing.
   */
  readonly copy?: boolean;
}

/** `npmInstall` input: packages by version range, or a project directory's lockfile. */
export type NpmInstallInput = Readonly<Record<string, string>> | { readonly lockfile: string };

/** Debian suite `Image.debianSlim()` builds when none is named. */
export const DEFAULT_DEBIAN_SUITE = "bookworm";

type PendingStep = ImageStep | { readonly kind: "runFunction"; readonly fn: NamedFunction };

/** Steps that change the file system: none may follow a mounted (copy: false) local file. */
const BUILD_STEP_KINDS = new Set(["aptInstall", "npmInstall", "runCommands", "runFunction"]);

/**
 * A container image: a base plus build steps, immutable and chainable. Each step becomes a cached
 * layer when the image is built (`ferry image build FILE`, or on deploy), keyed by its parent's key,
 * its definition and the content of its inputs, so only changed steps (and those after them) rebuild.
 *
 * @example
 * ```ts
 * const image = Image.debianSlim()
 *   .aptInstall("ffmpeg")
 *   .npmInstall({ sharp: "^0.34.0" })
 *   .env({ MODE: "prod" })
 *   .addLocalDir("./assets", "/assets");
 * export const app = new App("demo", { image });
 * ```
 */
export class Image {
  readonly [IMAGE_BRAND] = true;
  readonly base: ImageBase;
  private readonly pending: ReadonlyArray<PendingStep>;

  private constructor(base: ImageBase, steps: ReadonlyArray<PendingStep>) {
    this.base = base;
    this.pending = steps;
  }

  /** A named base image; "ferry/node" is the small default (the host's Node runtime on a minimal root). */
  static base(name: "ferry/node"): Image {
    if (name !== "ferry/node") throw new Error(`unknown base image "${String(name)}": use "ferry/node", Image.debianSlim() or Image.fromOci(path)`);
    return new Image({ kind: "ferry/node" }, []);
  }

  /** A minimal Debian root built from Debian's archive (mmdebstrap), with Ferry's Node runtime at /opt/ferry/node. */
  static debianSlim(options: { readonly suite?: string } = {}): Image {
    return new Image({ kind: "debian-slim", suite: options.suite ?? DEFAULT_DEBIAN_SUITE }, []);
  }

  /** An OCI image layout (a directory or a tar of one) as the base, e.g. one `docker save`/`skopeo` wrote. */
  static fromOci(path: string): Image {
    return new Image({ kind: "oci", path: resolve(path) }, []);
  }

  /**
   * A sandbox's files (`sb.snapshotFilesystem()` returns this), by snapshot id, from any process:
   * new sandboxes start from it with its /tmp and /workspace, and functions deployed with it read
   * its /workspace. A snapshot of another workspace is not found. Build steps on top of it are
   * refused at deploy for now.
   *
   * @example
   * ```ts
   * const snap = Image.fromSnapshot("sn-0k3x9…");
   * export const report = app.function({ image: snap }, async () => readFile("/workspace/report.txt", "utf8"));
   * ```
   */
  static fromSnapshot(id: string): Image {
    if (!/^sn-[0-9a-z]+$/.test(id)) throw new Error(`"${id}" is not a snapshot id: expected sn-…, as sb.snapshotFilesystem() returns`);
    return new Image({ kind: "snapshot", id }, []);
  }

  /** The snapshot id of an image that starts from a sandbox snapshot (`Image.fromSnapshot(id)` in another process); undefined otherwise. */
  get snapshotId(): string | undefined {
    return this.base.kind === "snapshot" ? this.base.id : undefined;
  }

  /** Install Debian packages (needs a Debian base: `Image.debianSlim()` or a Debian OCI image). */
  aptInstall(...packages: ReadonlyArray<string>): Image {
    return this.add({ kind: "aptInstall", packages: [...packages] });
  }

  /**
   * Install npm packages into /app/node_modules: `{ name: range }`, or `{ lockfile: "path/to/package-lock.json" }`
   * (its package.json next to it) for a reproducible `npm ci`.
   */
  npmInstall(input: NpmInstallInput): Image {
    if ("lockfile" in input && typeof input.lockfile === "string") {
      const lockfile = resolve(input.lockfile);
      return this.add({ kind: "npmInstall", lockfile, packageJson: resolve(lockfile, "..", "package.json") });
    }
    return this.add({ kind: "npmInstall", dependencies: { ...(input as Record<string, string>) } });
  }

  /** Run shell commands (`/bin/sh -c`, with `set -e`) in order, as one layer. */
  runCommands(...commands: ReadonlyArray<string>): Image {
    return this.add({ kind: "runCommands", commands: [...commands] });
  }

  /** Add a local directory at `remote` (mounted at start; baked into a layer with `{ copy: true }`). */
  addLocalDir(local: string, remote: string, options: AddLocalOptions = {}): Image {
    return this.add({ kind: "addLocalDir", local: resolve(local), remote, copy: options.copy ?? false });
  }

  /** Add a local file at `remote` (mounted at start; baked into a layer with `{ copy: true }`). */
  addLocalFile(local: string, remote: string, options: AddLocalOptions = {}): Image {
    return this.add({ kind: "addLocalFile", local: resolve(local), remote, copy: options.copy ?? false });
  }

  /** Set environment variables for later steps and for the containers. */
  env(vars: Readonly<Record<string, string>>): Image {
    return this.add({ kind: "env", vars: { ...vars } });
  }

  /** Set the working directory for later steps and for the containers. */
  workdir(path: string): Image {
    return this.add({ kind: "workdir", path });
  }

  /** Run a Ferry function of this app's module during the build (locally, in the step's sandbox); what it writes becomes a layer. */
  runFunction(fn: NamedFunction): Image {
    return this.add({ kind: "runFunction", fn });
  }

  /** The JSON step definitions (`ImageSpec`) the manifest carries and the builder runs. */
  toSpec(): ImageSpec {
    return {
      base: this.base,
      steps: this.pending.map((s, i): ImageStep => {
        if (s.kind === "runFunction" && "fn" in s) {
          if (!s.fn.name) throw new Error(`step ${i + 1} runFunction: the function has no name yet; export it from the app's module (or give it options.name)`);
          return { kind: "runFunction", function: s.fn.name };
        }
        return s as ImageStep;
      }),
    };
  }

  private add(step: PendingStep): Image {
    if (BUILD_STEP_KINDS.has(step.kind) || ((step.kind === "addLocalDir" || step.kind === "addLocalFile") && step.copy)) {
      const mounted = this.pending.find((s): s is MountedAfterBuildStep => (s.kind === "addLocalDir" || s.kind === "addLocalFile") && !s.copy);
      if (mounted) throw new ImageStepOrderError(mounted, step.kind);
    }
    return new Image(this.base, [...this.pending, step]);
  }
}

/** True for an `Image` from any copy of the SDK. */
export const isImage = (value: unknown): value is Image =>
  typeof value === "object" && value !== null && IMAGE_BRAND in value;
