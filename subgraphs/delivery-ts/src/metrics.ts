// Prometheus metrics at /metrics: the same names and labels as every shopgraph service
// (libs/shopkit/src/shopkit/metrics.py), which the N+1 tests and dashboards read.
// `shopgraph_store_calls_total` counts calls into the store layer (a DataLoader batch is
// one call), `shopgraph_store_commands_total` the Redis round trips they make.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const storeCalls = new Counter({
  name: "shopgraph_store_calls_total",
  help: "Calls into the service's store layer.",
  labelNames: ["call"],
  registers: [registry],
});
const storeCommands = new Counter({
  name: "shopgraph_store_commands_total",
  help: "Commands sent to the service's store.",
  labelNames: ["store", "command"],
  registers: [registry],
});
const storeCallSeconds = new Histogram({
  name: "shopgraph_store_call_seconds",
  help: "How long calls into the service's store layer take, waiting for a connection included.",
  labelNames: ["call"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
  registers: [registry],
});
export const eventsHandled = new Counter({
  name: "shopgraph_events_handled_total",
  help: "Events handled by this service's consumers, by outcome.",
  labelNames: ["stream", "type", "outcome"],
  registers: [registry],
});
export const eventsPublished = new Counter({
  name: "shopgraph_events_published_total",
  help: "Events this service's outbox relay published to its stream.",
  labelNames: ["stream"],
  registers: [registry],
});
export const workerUp = new Gauge({
  name: "shopgraph_worker_up",
  help: "1 while a background worker runs, 0 while it is down.",
  labelNames: ["worker"],
  registers: [registry],
});
export const workerRestarts = new Counter({
  name: "shopgraph_worker_restarts_total",
  help: "Times a background worker was started again after it failed.",
  labelNames: ["worker"],
  registers: [registry],
});

/** Counts and times one call of a store-layer method, labelled `DeliveryStore.<method>` as in Python. */
export async function storeCall<T>(call: string, work: () => Promise<T>): Promise<T> {
  storeCalls.inc({ call });
  const stop = storeCallSeconds.startTimer({ call });
  try {
    return await work();
  } finally {
    stop();
  }
}

export function roundTrip(command: string): void {
  storeCommands.inc({ store: "redis", command });
}
