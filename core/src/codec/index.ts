/**
 * Ferry's value codec: the single encoding for function arguments and results.
 *
 * @example
 * import { encodeToJson, decodeFromJson } from "@ferry/core/codec";
 * const copy = decodeFromJson(encodeToJson({ when: new Date(), ids: new Set([1n]) }));
 */
export {
  ValueCodecError,
  decodeFromJson,
  decodeValue,
  encodeToJson,
  encodeValue,
  serializeError,
} from "./value-codec.ts";
export type { Encoded } from "./value-codec.ts";
