// The envelope every event travels in (docs/events.md; events/schemas/envelope.v1.json):
// `{id, type, version, occurredAt, producer, traceparent, data}`. Consumers deduplicate on
// `id`; `type` and `version` name the JSON Schema `data` satisfies.

import { randomUUID } from "node:crypto";

import { formatInstant, now } from "./times.js";

export interface Envelope {
  readonly id: string;
  readonly type: string;
  readonly version: number;
  readonly occurredAt: string;
  readonly producer: string;
  readonly traceparent: string | null;
  readonly data: Record<string, unknown>;
}

export const newId = (): string => randomUUID().replaceAll("-", "");

export const streamFor = (producer: string): string => `shopgraph.events.${producer}`;

export function newEnvelope(type: string, producer: string, traceparent: string | null, data: Record<string, unknown>): Envelope {
  return { id: newId(), type, version: 1, occurredAt: formatInstant(now()), producer, traceparent, data };
}

/** Compact JSON with sorted keys, as every shopgraph producer writes an envelope. */
export function envelopeToJson(envelope: Envelope): string {
  return JSON.stringify(sortedKeys(envelope));
}

/** The envelope in an entry's JSON; throws when it is not one. */
export function envelopeFromJson(raw: string): Envelope {
  const doc: unknown = JSON.parse(raw);
  if (typeof doc !== "object" || doc === null) throw new Error("the event is not an object");
  const { id, type, version, occurredAt, producer, traceparent, data } = doc as Record<string, unknown>;
  if (typeof id !== "string" && typeof id !== "number") throw new Error("the event has no id");
  if (typeof type !== "string") throw new Error("the event has no type");
  if (!Number.isInteger(Number(version))) throw new Error("the event has no version");
  if (typeof occurredAt !== "string") throw new Error("the event has no occurredAt");
  if (typeof producer !== "string") throw new Error("the event has no producer");
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error("the event has no data");
  return {
    id: String(id),
    type,
    version: Number(version),
    occurredAt,
    producer,
    traceparent: typeof traceparent === "string" ? traceparent : null,
    data: data as Record<string, unknown>,
  };
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, inner]) => [key, sortedKeys(inner)]));
}
