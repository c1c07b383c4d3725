// Delivery's events: the ones it produces, the ones it consumes, and the outbox relay.
//
// Produced on shopgraph.events.delivery (schemas in events/schemas/):
// - delivery.scheduled when a captured payment creates the order's delivery;
// - delivery.status_changed on every later transition (carrier update or cancellation).
// Consumed in the consumer group "delivery":
// - payment.captured (payments) creates the order's one delivery, unless the order was
//   cancelled first;
// - order.cancelled (orders) leaves a tombstone and cancels a SCHEDULED delivery.
// Other event types on those streams are not ours and are acknowledged untouched.

import type { Tracer } from "@opentelemetry/api";
import type { Redis } from "ioredis";

import { envelopeFromJson, envelopeToJson, newEnvelope, newId, streamFor, type Envelope } from "./envelope.js";
import { logger } from "./log.js";
import { eventsPublished } from "./metrics.js";
import { OUTBOX_GROUP, streamReadings, type Probes, type Reading } from "./probes.js";
import type { Address, DeliveryRecord, TrackingEntry } from "./records.js";
import { carrierFor, estimatedDelivery, newTrackingNumber } from "./rules.js";
import { OUTBOX_KEY, type DeliveryStore, type StatusChange } from "./store.js";
import { EVENT_FIELD, StreamConsumer, deadLetterStream, defaultConsumerName } from "./streams.js";
import { sleep } from "./supervisor.js";
import { formatInstant, now, type Instant } from "./times.js";
import { traceparentOr } from "./tracing.js";

const log = logger("events");

export const SERVICE = "delivery";
export const STREAM = streamFor(SERVICE);
const CONSUMED_STREAMS = [streamFor("payments"), streamFor("orders")];

// Producer side.

export function deliveryScheduled(delivery: DeliveryRecord, traceparent: string | null): string {
  return envelopeToJson(
    newEnvelope("delivery.scheduled", SERVICE, traceparent, {
      deliveryId: delivery.id,
      orderId: delivery.orderId,
      recipientId: delivery.recipientId,
      carrier: delivery.carrier,
      trackingNumber: delivery.trackingNumber,
      estimatedDelivery: delivery.estimatedDelivery,
    }),
  );
}

export function deliveryStatusChanged(change: StatusChange, traceparent: string | null): string {
  return envelopeToJson(
    newEnvelope("delivery.status_changed", SERVICE, traceparent, {
      deliveryId: change.delivery.id,
      orderId: change.delivery.orderId,
      status: change.delivery.status,
      previousStatus: change.previousStatus,
      note: change.entry.note,
      at: change.entry.at,
    }),
  );
}

export function newDelivery(orderId: string, recipientId: string, address: Address, at: Instant): [DeliveryRecord, TrackingEntry] {
  const carrier = carrierFor(orderId);
  const scheduledAt = formatInstant(at);
  const delivery: DeliveryRecord = {
    id: newId(),
    orderId,
    recipientId,
    status: "SCHEDULED",
    carrier,
    trackingNumber: newTrackingNumber(),
    address,
    estimatedDelivery: estimatedDelivery(orderId, at),
    createdAt: scheduledAt,
    updatedAt: scheduledAt,
  };
  return [delivery, { status: "SCHEDULED", at: scheduledAt, note: `Handed to ${carrier}.` }];
}

// Consumer side.

/** Applies consumed events to the store; each is idempotent by event id and order id. */
export class EventHandlers {
  constructor(
    private readonly store: DeliveryStore,
    private readonly outboxWritten: () => void,
  ) {}

  readonly handle = async (event: Envelope): Promise<void> => {
    if (event.type === "payment.captured") await this.paymentCaptured(event);
    else if (event.type === "order.cancelled") await this.orderCancelled(event);
  };

  private async paymentCaptured(event: Envelope): Promise<void> {
    const orderId = text(event.data, "orderId");
    const [delivery, firstEntry] = newDelivery(orderId, text(event.data, "customerId"), address(event.data["shippingAddress"]), now());
    const created = await this.store.createDelivery(delivery, firstEntry, deliveryScheduled(delivery, traceparentOr(event.traceparent)), event.id);
    if (created) this.outboxWritten();
    else log.info(`payment.captured ${event.id} for order ${orderId}: no new delivery`);
  }

  private async orderCancelled(event: Envelope): Promise<void> {
    const orderId = text(event.data, "orderId");
    const traceparent = traceparentOr(event.traceparent);
    const change = await this.store.cancelForOrder(orderId, formatInstant(now()), event.id, (change) =>
      deliveryStatusChanged(change, traceparent),
    );
    if (change !== null) this.outboxWritten();
  }
}

export function consumer(connection: Redis, handlers: EventHandlers, tracer: Tracer | null): StreamConsumer {
  return new StreamConsumer(connection, SERVICE, defaultConsumerName(SERVICE), CONSUMED_STREAMS, handlers.handle, tracer);
}

function text(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string" || value === "") throw new Error(`event data lacks the string field '${field}'`);
  return value;
}

function address(value: unknown): Address {
  if (typeof value !== "object" || value === null) throw new Error("event data lacks the shippingAddress object");
  const doc = value as Record<string, unknown>;
  const line2 = doc["line2"];
  return {
    line1: text(doc, "line1"),
    line2: typeof line2 === "string" && line2 !== "" ? line2 : null,
    city: text(doc, "city"),
    postalCode: text(doc, "postalCode"),
    country: text(doc, "country"),
  };
}

// The outbox relay.

const OUTBOX_BACKLOG_CAP = 1000;

/**
 * Publishes the store's outbox to shopgraph.events.delivery, as shopkit's OutboxRelay does for
 * every Python service: a change that pushed an event notifies the relay, which publishes at
 * once; a sweep, at start and every OUTBOX_SWEEP_SECONDS, catches what a crashed process left
 * behind. An entry that is not an event is moved to `<stream>.dead.outbox` with the reason,
 * so it cannot stop the relay. While it runs it reports the backlog and, as the stream's
 * producer, what the stream's consumer groups have left undone (probes.ts).
 */
export class OutboxRelay {
  private notified = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly store: DeliveryStore,
    private readonly events: Redis,
    private readonly probes: Probes,
    private readonly sweepIntervalMs: number,
    private readonly batch = 100,
  ) {}

  readonly notify = (): void => {
    this.notified = true;
    this.wake?.();
  };

  async run(signal: AbortSignal): Promise<void> {
    const unregister = this.probes.register(`outbox-relay:${STREAM}`, () => this.readings());
    try {
      let nextSweep = 0; // sweep at start: a previous process may have left events
      while (!signal.aborted) {
        try {
          if (Date.now() >= nextSweep) {
            await this.relayPending();
            nextSweep = Date.now() + this.sweepIntervalMs;
          }
          if (await this.notifiedWithin(Math.max(nextSweep - Date.now(), 0), signal)) {
            await this.publishAndRemove(await this.store.outboxRead());
          }
        } catch (error) {
          // The sweep will find whatever this attempt left unpublished.
          log.warning(`outbox relay to ${STREAM} paused: ${String(error)}`);
          await sleep(1000, signal);
          nextSweep = 0;
        }
      }
    } finally {
      unregister();
    }
  }

  /** Publishes every pending event; returns how many entries it took out of the outbox. */
  async relayPending(): Promise<number> {
    let relayed = 0;
    for (;;) {
      const pending = await this.store.outboxPending(this.batch);
      if (pending.length === 0) return relayed;
      relayed += await this.publishAndRemove(pending);
    }
  }

  private async readings(): Promise<Reading[]> {
    const backlog = await this.store.outboxBacklog(OUTBOX_BACKLOG_CAP);
    return [
      { name: "shopgraph_outbox_backlog", labels: { stream: STREAM }, value: backlog },
      ...(await streamReadings(this.events, STREAM)),
    ];
  }

  /** Publishes these entries (as read) in one round trip, then removes them; returns how many. */
  private async publishAndRemove(entries: readonly string[]): Promise<number> {
    if (entries.length === 0) return 0;
    const publishing = this.events.pipeline();
    let published = 0;
    for (const entry of entries) {
      let json: string;
      try {
        json = envelopeToJson(envelopeFromJson(entry));
      } catch (error) {
        await this.deadLetter(entry, error);
        continue;
      }
      publishing.xadd(STREAM, "*", EVENT_FIELD, json);
      published += 1;
    }
    if (published > 0) {
      for (const [error] of (await publishing.exec()) ?? []) if (error !== null) throw error;
      eventsPublished.inc({ stream: STREAM }, published);
    }
    await this.store.outboxRemove(entries);
    return entries.length;
  }

  private async deadLetter(entry: string, error: unknown): Promise<void> {
    const dead = deadLetterStream(STREAM, OUTBOX_GROUP);
    await this.events.xadd(dead, "*", "document_id", OUTBOX_KEY, "entry", JSON.stringify(entry), "reason", `unreadable outbox entry: ${String(error)}`);
    log.error(`outbox entry of ${OUTBOX_KEY} is not an event (${String(error)}): moved to ${dead}`);
  }

  /** Whether a notification came (or had come) within `ms`. */
  private async notifiedWithin(ms: number, signal: AbortSignal): Promise<boolean> {
    if (!this.notified) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
        this.wake = done;
      });
    }
    const notified = this.notified;
    this.notified = false;
    return notified;
  }
}
