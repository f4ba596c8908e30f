import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Context, Effect, Layer } from "effect";
import { BusError } from "../errors/errors.ts";
import { Limits } from "../limits/limits.ts";
import { Streams, Subjects } from "./subjects.ts";

/** How long a container may hold an input without a progress ack before it is redelivered. */
export const INPUT_ACK_WAIT_MS = 6_000;

const nanos = (ms: number) => ms * 1_000_000;

/**
 * NATS and JetStream for the platform: per-function work queues, call event streams, logs.
 *
 * @example
 * ```ts
 * const bus = yield* Bus;
 * yield* bus.ensureFunctionQueue("fn-abc");
 * ```
 */
export class Bus extends Context.Service<Bus, {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  ensureFunctionQueue(functionId: string): Effect.Effect<void, BusError>;
}>()("ferry/core/bus/Bus") {
  /** A Bus over a connection the caller owns (connect with `@nats-io/transport-node` on Node). */
  static layerConnection(nc: NatsConnection) {
    return Layer.effect(Bus, makeBus(nc));
  }
}

const makeBus = (nc: NatsConnection) => Effect.gen(function*() {
  const jsm = yield* Effect.tryPromise({ try: () => jetstreamManager(nc), catch: (cause) => new BusError({ operation: "jetstreamManager", cause }) });
  const js = jetstream(nc);
  yield* Effect.tryPromise({ try: () => ensureSystemStreams(jsm), catch: (cause) => new BusError({ operation: "ensureSystemStreams", cause }) });
  const ensured = new Set<string>();
  const ensureFunctionQueue = Effect.fn("Bus.ensureFunctionQueue")(function*(functionId: string) {
    if (ensured.has(functionId)) return;
    yield* Effect.tryPromise({ try: () => ensureFunctionQueueOn(jsm, functionId), catch: (cause) => new BusError({ operation: "ensureFunctionQueue", cause }) });
    ensured.add(functionId);
  });
  return Bus.of({ nc, js, jsm, ensureFunctionQueue });
});

const addOrKeep = async (fn: () => Promise<unknown>) => {
  try {
    await fn();
  } catch (e) {
    // Another process created it first with the same config: fine.
    if (!/already in use|already exists/i.test(String((e as Error).message))) throw e;
  }
};

/** Create the platform-wide streams if missing. */
export const ensureSystemStreams = async (jsm: JetStreamManager): Promise<void> => {
  await addOrKeep(() => jsm.streams.add({
    name: Streams.outputs, subjects: [Subjects.callEvents("*")], storage: StorageType.File,
    max_age: nanos(Limits.outputRetentionS * 1000), max_msg_size: Limits.maxMessageBytes,
  }));
  await addOrKeep(() => jsm.streams.add({
    name: Streams.logs, subjects: [Subjects.logs("*")], storage: StorageType.File,
    max_age: nanos(Limits.logRetentionS * 1000), max_bytes: 1024 * 1024 * 1024,
  }));
};

/** A function's work queue: each input batch is delivered to exactly one container at a time. */
export const ensureFunctionQueueOn = async (jsm: JetStreamManager, functionId: string): Promise<void> => {
  const stream = Streams.functionQueue(functionId);
  await addOrKeep(() => jsm.streams.add({
    name: stream, subjects: [Subjects.input(functionId)], retention: RetentionPolicy.Workqueue,
    storage: StorageType.File, max_msg_size: Limits.maxMessageBytes,
  }));
  await addOrKeep(() => jsm.consumers.add(stream, {
    durable_name: Streams.workersConsumer, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(INPUT_ACK_WAIT_MS), max_ack_pending: -1, max_waiting: 4096,
  }));
};
