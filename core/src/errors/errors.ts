import { Schema } from "effect";

/** A request's field failed validation; `field` is its dotted path (`options.timeout`). */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  field: Schema.String,
  message: Schema.String,
}) {}

/** The object does not exist, or belongs to another workspace (never told apart). */
export class NotFoundError extends Schema.TaggedError<NotFoundError>()("NotFoundError", {
  kind: Schema.String,
  id: Schema.String,
}) {
  override get message() {
    return `${this.kind} ${this.id} not found`;
  }
}

/** Missing, malformed, unknown or revoked bearer token. */
export class UnauthorizedError extends Schema.TaggedError<UnauthorizedError>()("UnauthorizedError", {
  message: Schema.String,
}) {}

/** A body or value above a named limit from `Limits`. */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()("PayloadTooLargeError", {
  limit: Schema.String,
  maxBytes: Schema.Number,
  message: Schema.String,
}) {}

/** The request conflicts with current state (a stopped app, a closed call). */
export class ConflictError extends Schema.TaggedError<ConflictError>()("ConflictError", {
  message: Schema.String,
}) {}

/** A storage (libSQL) operation failed. */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  cause: Schema.Defect(),
}) {
  override get message() {
    return `storage ${this.operation} failed: ${String(this.cause)}`;
  }
}

/** A bus (NATS / JetStream) operation failed. */
export class BusError extends Schema.TaggedError<BusError>()("BusError", {
  operation: Schema.String,
  cause: Schema.Defect(),
}) {
  override get message() {
    return `bus ${this.operation} failed: ${String(this.cause)}`;
  }
}

/** No region can take the call (none registered, none healthy, none allowed). */
export class UnavailableError extends Schema.TaggedError<UnavailableError>()("UnavailableError", {
  message: Schema.String,
}) {}

/** Every error an edge route can answer with; mapped to HTTP status codes in one place. */
export type ApiError =
  | ValidationError
  | NotFoundError
  | UnauthorizedError
  | PayloadTooLargeError
  | ConflictError
  | StorageError
  | BusError
  | UnavailableError;
