// Where Dicts and Queues live on NATS. Every name is derived from the workspace id and the
// object's name, so another workspace's object of the same name is another stream; keys and
// partition keys (any string) are base64url-encoded into single subject tokens.
//
// - Dict `d` of workspace `ws`: KV bucket `FD_<ws>_<d>` (stream `KV_FD_<ws>_<d>`), one subject
//   `$KV.FD_<ws>_<d>.<key>` per key, at most one message each.
// - Queue `q`: work-queue stream `FQ_<ws>_<q>`, subject `ferry.q.<ws>.<q>.d` for the default
//   partition and `ferry.q.<ws>.<q>.p.<partition>` for the others; one pull consumer per partition.

/** Workspace ids as the edge sends them (`ws-…`): safe inside stream names and subjects. */
export const WORKSPACE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A string as one subject token: base64url of its UTF-8, without padding.
 *
 * @example
 * ```ts
 * encodeToken("a.b c"); // "YS5iIGM"
 * ```
 */
export const encodeToken = (s: string): string => Buffer.from(utf8.encode(s)).toString("base64url");

/** The string `encodeToken` made `token` from. */
export const decodeToken = (token: string): string => fromUtf8.decode(Buffer.from(token, "base64url"));

/** The NATS names of one Dict, by its bucket (`FD_<ws>_<name>`). */
export const dictNamesOfBucket = (bucket: string) => {
  const prefix = `$KV.${bucket}.`;
  return {
    bucket,
    stream: `KV_${bucket}`,
    /** Every key's subject. */
    all: `${prefix}>`,
    subject: (key: string) => `${prefix}${encodeToken(key)}`,
    keyOf: (subject: string) => decodeToken(subject.slice(prefix.length)),
  };
};

/** The NATS names of Dict `name` of workspace `ws`. */
export const dictNames = (ws: string, name: string) => dictNamesOfBucket(`FD_${ws}_${name}`);
export type DictNames = ReturnType<typeof dictNames>;

/** The NATS names of one Queue. */
export const queueNames = (ws: string, name: string) => {
  const base = `ferry.q.${ws}.${name}`;
  return {
    stream: `FQ_${ws}_${name}`,
    all: `${base}.>`,
    /** The subject of a partition; the default one when `partition` is undefined. */
    subject: (partition?: string) => (partition === undefined ? `${base}.d` : `${base}.p.${encodeToken(partition)}`),
    /** The durable pull consumer that serves a partition. */
    consumer: (partition?: string) => (partition === undefined ? "default" : `p_${encodeToken(partition)}`),
  };
};
export type QueueNames = ReturnType<typeof queueNames>;

/** Stream-name prefixes of a workspace's Dicts and Queues, for listing them. */
export const storePrefixes = (ws: string) => ({ dict: `KV_FD_${ws}_`, queue: `FQ_${ws}_` });

/** Stream-name prefix of every Dict of every workspace (the expiry sweep walks them all). */
export const ALL_DICTS_PREFIX = "KV_FD_";
