export { Image, isImage, IMAGE_BRAND, DEFAULT_DEBIAN_SUITE, type AddLocalOptions, type NpmInstallInput, type NamedFunction } from "./image.ts";
export { ImageStepOrderError } from "./image-errors.ts";
