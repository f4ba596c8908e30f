// Bodies of the Dict and Queue routes, shared by the edge (`/v1/dicts`, `/v1/queues`) and the
// region (`/internal/stores`) so both refuse the same inputs with the same field names.
import { Schema } from "effect";
import { Limits } from "../limits/limits.ts";
import { storeKeyProblem } from "./store-keys.ts";

const keyOf = (maxBytes: number, limit: string) =>
  Schema.String.check(Schema.makeFilter((s: string) => storeKeyProblem(s, maxBytes, limit) ?? true));

/** A Dict key: any non-empty string of at most `maxDictKeyBytes` without control characters. */
export const DictKey = keyOf(Limits.maxDictKeyBytes, "maxDictKeyBytes");
/** A Queue partition key: as a Dict key, at most `maxQueuePartitionBytes`. */
export const PartitionKey = keyOf(Limits.maxQueuePartitionBytes, "maxQueuePartitionBytes");

const items = <S extends Schema.Top>(item: S) => Schema.Array(item).check(
  Schema.isMinLength(1),
  Schema.isMaxLength(Limits.maxStoreItemsPerRequest, { message: `at most ${Limits.maxStoreItemsPerRequest} items per request (maxStoreItemsPerRequest)` }),
);

/** `POST …/dicts/:name/get|has|delete`. */
export const DictKeyRequest = Schema.Struct({ key: DictKey });
export type DictKeyRequest = typeof DictKeyRequest.Type;

/** `POST …/dicts/:name/put`: one entry (`put`) or many (`update`); `ttl` in seconds applies to each. */
export const DictPutRequest = Schema.Struct({
  /** Values are encoded with the value codec. */
  entries: items(Schema.Struct({ key: DictKey, value: Schema.Unknown })),
  ttl: Schema.optional(Schema.Number.check(
    Schema.isGreaterThan(0, { message: "expected a number of seconds above 0" }),
    Schema.isLessThanOrEqualTo(Limits.maxDictTtlS, { message: `at most ${Limits.maxDictTtlS} seconds (maxDictTtlS)` }),
  )),
});
export type DictPutRequest = typeof DictPutRequest.Type;

/** `POST …/queues/:name/put`: items (value codec) appended in order to one partition, all or none. */
export const QueuePutRequest = Schema.Struct({
  values: items(Schema.Unknown),
  partition: Schema.optional(PartitionKey),
});
export type QueuePutRequest = typeof QueuePutRequest.Type;

/** `POST …/queues/:name/get`: up to `n` items, waiting up to `timeout` seconds for the first. */
export const QueueGetRequest = Schema.Struct({
  n: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: Limits.maxStoreItemsPerRequest }))),
  /** Seconds; 0 answers at once. One request waits at most `maxWaitMs`; the SDK asks again for longer waits. */
  timeout: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: Limits.maxWaitMs / 1000 }))),
  partition: Schema.optional(PartitionKey),
});
export type QueueGetRequest = typeof QueueGetRequest.Type;

/** `POST …/queues/:name/clear`: the default partition, one partition, or `all`. */
export const QueueClearRequest = Schema.Struct({
  partition: Schema.optional(PartitionKey),
  all: Schema.optional(Schema.Boolean),
});
export type QueueClearRequest = typeof QueueClearRequest.Type;
