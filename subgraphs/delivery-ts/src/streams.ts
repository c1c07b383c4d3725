// Redis Streams: consuming in a consumer group, with the delivery guarantees every shopgraph
// consumer gives (docs/events.md, "Retries, dead letters, crashed consumers"):
// - an entry is acknowledged (XACK) only after its handler returned;
// - an entry whose handler threw stays pending and is retried after a backoff doubling from
//   0.5 s to 30 s, by this consumer (XCLAIM of its own entry);
// - an entry pending on a consumer that died is claimed once it has been idle for 15 s;
// - after 20 deliveries an entry goes to `<stream>.dead.<group>` with the reason and is
//   acknowledged, as is an entry that holds no readable event, at once.
// With a tracer, each attempt at an event is a span continuing the trace of the event's
// `traceparent` (tracing.ts, `consuming`).
// The entries of one read are handled concurrently by order, each order's in stream order.

import { hostname } from "node:os";

import type { Tracer } from "@opentelemetry/api";
import type { Redis } from "ioredis";

import { envelopeFromJson, type Envelope } from "./envelope.js";
import { logger } from "./log.js";
import { eventsHandled } from "./metrics.js";
import { sleep } from "./supervisor.js";
import { consuming, recordFailure } from "./tracing.js";

const log = logger("streams");

export const EVENT_FIELD = "event";
const MAX_ATTEMPTS = 20;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const CLAIM_IDLE_MS = 15_000;
const BATCH = 32;
const BLOCK_MS = 500;

export type Handler = (event: Envelope) => Promise<void>;
type Fields = Record<string, string>;
type RawEntry = [id: string, fields: string[] | null];

export const deadLetterStream = (stream: string, group: string): string => `${stream}.dead.${group}`;
export const defaultConsumerName = (service: string): string => `${service}-${hostname()}-${process.pid}`;

const backoffMs = (attempts: number): number =>
  Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(attempts - 1, 0), MAX_BACKOFF_MS);

/** The order an event is about: every event of the shop names one (events/schemas/). */
const laneOf = (event: Envelope): string => String(event.data["orderId"] ?? event.id);

export class StreamConsumer {
  constructor(
    /** A connection of its own: XREADGROUP blocks it. */
    private readonly redis: Redis,
    private readonly group: string,
    private readonly consumer: string,
    private readonly streams: readonly string[],
    private readonly handler: Handler,
    private readonly tracer: Tracer | null = null,
  ) {}

  /** Consumes until the signal aborts; survives Redis outages by retrying. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.ensureGroups();
        while (!signal.aborted) {
          await this.retryPending();
          await this.readNew();
        }
      } catch (error) {
        if (signal.aborted) return;
        log.warning(`consumer ${this.group}: redis unavailable (${String(error)}); retrying in 1s`);
        await sleep(1000, signal);
      }
    }
  }

  private async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.redis.xgroup("CREATE", stream, this.group, "0", "MKSTREAM");
      } catch (error) {
        if (!String(error).includes("BUSYGROUP")) throw error;
      }
    }
  }

  private async readNew(): Promise<void> {
    const reply = (await this.redis.xreadgroup(
      "GROUP", this.group, this.consumer, "COUNT", BATCH, "BLOCK", BLOCK_MS,
      "STREAMS", ...this.streams, ...this.streams.map(() => ">"),
    )) as [string, RawEntry[]][] | null;
    for (const [stream, entries] of reply ?? []) {
      const lanes = new Map<string, [string, Envelope][]>();
      for (const [entryId, rawFields] of entries) {
        const event = await this.decode(stream, entryId, toFields(rawFields), 1);
        if (event === null) continue;
        const lane = lanes.get(laneOf(event)) ?? [];
        lane.push([entryId, event]);
        lanes.set(laneOf(event), lane);
      }
      await Promise.all(
        [...lanes.values()].map(async (lane) => {
          for (const [entryId, event] of lane) await this.handle(stream, entryId, event, 1);
        }),
      );
    }
  }

  private async retryPending(): Promise<void> {
    for (const stream of this.streams) {
      const pending = (await this.redis.xpending(
        stream, this.group, "IDLE", FIRST_BACKOFF_MS, "-", "+", BATCH,
      )) as [string, string, number, number][];
      for (const [entryId, owner, idleMs, deliveries] of pending) {
        await this.retryOne(stream, entryId, owner, Number(idleMs), Number(deliveries));
      }
    }
  }

  private async retryOne(stream: string, entryId: string, owner: string, idleMs: number, attempts: number): Promise<void> {
    const waitMs = owner === this.consumer ? backoffMs(attempts) : Math.max(CLAIM_IDLE_MS, backoffMs(attempts));
    if (idleMs < waitMs) return;
    const claimed = (await this.redis.xclaim(stream, this.group, this.consumer, waitMs, entryId)) as RawEntry[];
    for (const [claimedId, rawFields] of claimed) {
      if (rawFields === null) continue; // the entry was trimmed from the stream meanwhile
      const fields = toFields(rawFields);
      if (attempts >= MAX_ATTEMPTS) {
        await this.deadLetter(stream, claimedId, fields, attempts, "too many failed attempts");
        continue;
      }
      const event = await this.decode(stream, claimedId, fields, attempts + 1);
      if (event !== null) await this.handle(stream, claimedId, event, attempts + 1);
    }
  }

  /** The entry's event; null when it holds none (it is dead-lettered at once). */
  private async decode(stream: string, entryId: string, fields: Fields, attempts: number): Promise<Envelope | null> {
    try {
      const raw = fields[EVENT_FIELD];
      if (raw === undefined) throw new Error(`no '${EVENT_FIELD}' field`);
      return envelopeFromJson(raw);
    } catch (error) {
      await this.deadLetter(stream, entryId, fields, attempts, `unreadable event: ${String(error)}`);
      return null;
    }
  }

  private async handle(stream: string, entryId: string, event: Envelope, attempts: number): Promise<void> {
    const consumed = { eventType: event.type, eventId: event.id, traceparent: event.traceparent, stream, group: this.group };
    await consuming(this.tracer, consumed, async () => {
      try {
        await this.handler(event);
      } catch (error) {
        eventsHandled.inc({ stream, type: event.type, outcome: "failed" });
        log.error(`handling ${event.type} ${event.id} failed (attempt ${attempts}); it stays pending`, error);
        recordFailure(error);
        return;
      }
      await this.redis.xack(stream, this.group, entryId);
      eventsHandled.inc({ stream, type: event.type, outcome: "ok" });
    });
  }

  private async deadLetter(stream: string, entryId: string, fields: Fields, attempts: number, reason: string): Promise<void> {
    const dead = deadLetterStream(stream, this.group);
    const record: Fields = { ...fields, source_stream: stream, source_id: entryId, attempts: String(attempts), reason };
    const replies = await this.redis
      .multi()
      .xadd(dead, "*", ...Object.entries(record).flat())
      .xack(stream, this.group, entryId)
      .exec();
    for (const [error] of replies ?? []) if (error !== null) throw error;
    eventsHandled.inc({ stream, type: "unknown", outcome: "dead_lettered" });
    log.error(`event ${entryId} on ${stream} dead-lettered to ${dead}: ${reason}`);
  }
}

function toFields(raw: string[] | null): Fields {
  const fields: Fields = {};
  for (let index = 0; raw !== null && index + 1 < raw.length; index += 2) {
    fields[raw[index] as string] = raw[index + 1] as string;
  }
  return fields;
}
