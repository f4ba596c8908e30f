export * from "./block-store.ts";
export * from "./image-path.ts";
export * from "./image-index.ts";
export * from "./image-index-codec.ts";
export * from "./file-chunks.ts";
