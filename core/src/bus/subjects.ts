/**
 * NATS subjects and JetStream names: the wire contract between edge, regions and agents.
 *
 * - `ferry.in.<functionId>`: a function's input queue (work-queue stream `FN_<functionId>`).
 * - `ferry.out.<callId>`: a call's events — outputs, closed, cancelled (stream `FERRY_OUTPUTS`).
 * - `ferry.logs.<appId>`: container log lines (stream `FERRY_LOGS`).
 * - `ferry.cancel`: cancelled call ids, for agents to drop queued and running inputs.
 * - `ferry.cluster.<clusterId>.<ready|go|in|out|gone>`: the ranks of one cluster coordinating
 *   (core NATS, no stream): followers announce ready, rank 0 fans inputs out and gathers results.
 * - `ferry.ep.<requestId>.<body|res>`: one web endpoint request's bodies (core NATS request/reply,
 *   no stream): the container's agent pulls request body pieces from the region on `body` and
 *   sends response parts on `res`, each acknowledged by the region once written (backpressure).
 */
export const Subjects = {
  input: (functionId: string) => `ferry.in.${functionId}`,
  callEvents: (callId: string) => `ferry.out.${callId}`,
  logs: (appId: string) => `ferry.logs.${appId}`,
  cancel: "ferry.cancel",
  cluster: (clusterId: string, kind: "ready" | "go" | "in" | "out" | "gone") => `ferry.cluster.${clusterId}.${kind}`,
  endpointBody: (requestId: string) => `ferry.ep.${requestId}.body`,
  endpointResponse: (requestId: string) => `ferry.ep.${requestId}.res`,
  /** Both of a request's endpoint subjects, for one subscription. */
  endpointAny: (requestId: string) => `ferry.ep.${requestId}.*`,
} as const;

export const Streams = {
  functionQueue: (functionId: string) => `FN_${functionId}`,
  outputs: "FERRY_OUTPUTS",
  logs: "FERRY_LOGS",
  /** The durable pull consumer every container of a function takes inputs from. */
  workersConsumer: "workers",
} as const;
