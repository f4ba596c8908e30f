import type { EndpointOption, ImageSpec } from "@ferry/core";
import type { Schedule } from "../schedules/schedule.ts";
import type { Secret } from "../secrets/secret.ts";
import type { Volume } from "../volumes/volume.ts";
import { isImage, type Image } from "../images/image.ts";

/** Retry policy of `options.retries` (delays in milliseconds). */
export interface RetryOptions {
  readonly maxRetries: number;
  readonly initialDelayMs?: number;
  readonly backoffCoefficient?: number;
  readonly maxDelayMs?: number;
}

/**
 * Options of `app.function(options, fn)`. Durations are seconds unless the name says otherwise.
 * See API.md for each; the platform validates them at deploy time.
 */
export interface FunctionOptions {
  readonly name?: string;
  /** The function's image (`Image.base("ferry/node")`, the default, or `Image.debianSlim()…`). */
  readonly image?: Image | ImageSpec;
  readonly runtime?: "node" | "bun";
  readonly gpu?: string | ReadonlyArray<string>;
  readonly cpu?: number;
  readonly memory?: number;
  readonly timeout?: number;
  readonly retries?: number | RetryOptions;
  readonly region?: string | ReadonlyArray<string>;
  readonly cloud?: string | ReadonlyArray<string>;
  readonly minContainers?: number;
  readonly maxContainers?: number;
  readonly bufferContainers?: number;
  readonly scaledownWindow?: number;
  readonly maxInputs?: number;
  /** `"outbound"` (default): its containers may open connections out, never to the platform's own services; `"none"`: a private loopback only. */
  readonly network?: "outbound" | "none";
  /** Gang-place `size` containers in one region (one RDMA fabric with `rdma`); every input runs on all ranks. */
  readonly cluster?: { readonly size: number; readonly rdma?: boolean };
  /** Secrets whose variables are set in the function's containers (a later secret wins over an earlier one). */
  readonly secrets?: ReadonlyArray<Secret>;
  /** Volumes mounted read-write in the function's containers: mount path → volume. */
  readonly volumes?: Readonly<Record<string, Volume>>;
  /** Run on its own on a schedule while the app is deployed: `Cron("0 * * * *")` or `Period({ minutes: 5 })`. */
  readonly schedule?: Schedule;
  /** Set by `app.endpoint` and `app.webApp` (not for `app.function`): the function is served over HTTP. */
  readonly endpoint?: EndpointOption;
}

/** The options that travel in the deploy manifest (everything but the name; an `Image` as its spec). */
export const manifestOptions = (o: FunctionOptions): Omit<FunctionOptions, "name"> => {
  const { name: _name, image, ...rest } = o;
  return image === undefined ? rest : { ...rest, image: isImage(image) ? image.toSpec() : image };
};
