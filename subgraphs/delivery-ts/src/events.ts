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

import { createHash, randomBytes } from "node:crypto";

import type { Redis } from "ioredis";

import { envelopeFromJson, envelopeToJson, newEnvelope, newId, streamFor, type Envelope } from "./envelope.js";
import { logger } from "./log.js";
import type { Address, DeliveryRecord, TrackingEntry } from "./records.js";
import type { DeliveryStore, StatusChange } from "./store.js";
import { EVENT_FIELD, StreamConsumer, defaultConsumerName } from "./streams.js";
import { sleep } from "./supervisor.js";
import { formatInstant, now, type Instant } from "./times.js";

const log = logger("events");

export const SERVICE = "delivery";
export const STREAM = streamFor(SERVICE);
const CONSUMED_STREAMS = [streamFor("payments"), streamFor("orders")];
const CARRIERS = ["DHL", "UPS", "DPD", "PostNL"] as const;

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

/** "SG" and 80 random bits in base32: unguessable, so it can be shown publicly. */
export function newTrackingNumber(): string {
  return `SG${base32(randomBytes(10))}`;
}

/** The same order always goes with the same carrier. */
export function carrierFor(orderId: string): string {
  return CARRIERS[(orderDigest(orderId)[0] ?? 0) % CARRIERS.length] as string;
}

/** The end (18:00 UTC) of the working day 3 to 5 business days after scheduling. */
export function estimatedDelivery(orderId: string, scheduledAt: Instant): string {
  let businessDays = 3 + ((orderDigest(orderId)[1] ?? 0) % 3);
  const day = new Date(scheduledAt.epochMs);
  while (businessDays > 0) {
    day.setUTCDate(day.getUTCDate() + 1);
    const weekday = day.getUTCDay();
    if (weekday !== 0 && weekday !== 6) businessDays -= 1;
  }
  day.setUTCHours(18, 0, 0, 0);
  return formatInstant({ epochMs: day.getTime(), microRemainder: 0 });
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

function orderDigest(orderId: string): Buffer {
  return createHash("sha256").update(orderId).digest();
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 of a whole number of 5-byte groups (no padding needed). */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
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
    const created = await this.store.createDelivery(delivery, firstEntry, deliveryScheduled(delivery, event.traceparent), event.id);
    if (created) this.outboxWritten();
    else log.info(`payment.captured ${event.id} for order ${orderId}: no new delivery`);
  }

  private async orderCancelled(event: Envelope): Promise<void> {
    const orderId = text(event.data, "orderId");
    const change = await this.store.cancelForOrder(orderId, formatInstant(now()), event.id, (change) =>
      deliveryStatusChanged(change, event.traceparent),
    );
    if (change !== null) this.outboxWritten();
  }
}

export function consumer(connection: Redis, handlers: EventHandlers): StreamConsumer {
  return new StreamConsumer(connection, SERVICE, defaultConsumerName(SERVICE), CONSUMED_STREAMS, handlers.handle);
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

/**
 * Publishes the store's outbox to shopgraph.events.delivery, oldest first. Writes made by
 * this process wake it at once (`notify`); the idle poll picks up entries another process
 * left behind, such as an instance that died before relaying them.
 */
export class OutboxRelay {
  private wake: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly store: DeliveryStore,
    private readonly events: Redis,
    private readonly idleIntervalMs = 1000,
    private readonly batch = 100,
  ) {}

  readonly notify = (): void => {
    this.woken = true;
    this.wake?.();
  };

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let relayed = 0;
      try {
        relayed = await this.relayPending();
      } catch (error) {
        log.warning(`delivery outbox relay paused: ${String(error)}`);
        await sleep(1000, signal);
      }
      if (relayed === 0) await this.idle(signal);
    }
  }

  /** Publishes the pending events once; returns how many it published. */
  async relayPending(): Promise<number> {
    const entries = await this.store.outboxPeek(this.batch);
    for (const entry of entries) {
      await this.events.xadd(STREAM, "*", EVENT_FIELD, envelopeToJson(envelopeFromJson(entry)));
      await this.store.outboxRemove(entry);
    }
    return entries.length;
  }

  private async idle(signal: AbortSignal): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.idleIntervalMs);
      const abort = (): void => done();
      signal.addEventListener("abort", abort, { once: true });
      this.wake = done;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
        resolve();
      }
    });
    this.wake = null;
    this.woken = false;
  }
}
