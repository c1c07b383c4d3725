// All of delivery's Redis access (the only module that talks to its store). The layout,
// shared with the Python implementation (subgraphs/delivery/src/delivery/store.py):
//
//   delivery:{id}                          string      the delivery as JSON (records.ts)
//   delivery:{id}:events                   list        its tracking events as JSON, oldest first
//   delivery:by-order:{orderId}            string      the id of the order's one delivery
//   delivery:by-tracking:{trackingNumber}  string      the id of the delivery with that number
//   delivery:by-recipient:{userId}         sorted set  the user's delivery ids, score = creation time
//   delivery:applied-event:{eventId}       string      marker: this consumed event was applied (30 days)
//   delivery:cancelled-order:{orderId}     string      tombstone: the order was cancelled (when)
//   delivery:outbox                        list        produced events (envelope JSON) not yet published
//
// Every change is one optimistic transaction: WATCH the keys the decision depends on, read
// them, then MULTI/EXEC the new state, its tracking event, the applied-event marker and the
// produced event (onto the outbox) together; an interrupted EXEC is read again and retried.
// A WATCH needs a connection of its own, so transactions take one from a small pool.
//
// Ids are uuid4 hex and tracking numbers `SG` + 16 base32 characters: any other string
// means "no such delivery" and never becomes part of a key.

import { Redis } from "ioredis";

import { notFound } from "./errors.js";
import { roundTrip, storeCall } from "./metrics.js";
import {
  entryFromJson,
  entryToJson,
  recordFromJson,
  recordToJson,
  type DeliveryRecord,
  type TrackingEntry,
} from "./records.js";
import { CANCELLABLE, checkCarrierMove, type DeliveryStatus } from "./rules.js";
import { epochSeconds, parseInstant } from "./times.js";

export const OUTBOX_KEY = "delivery:outbox";
const APPLIED_EVENT_TTL_SECONDS = 30 * 24 * 3600;
const CANCELLED_NOTE = "The order was cancelled.";
const DELIVERY_ID = /^[0-9a-f]{32}$/;
const TRACKING_NUMBER = /^SG[A-Z2-7]{16}$/;

const deliveryKey = (id: string): string => `delivery:${id}`;
const trackingEventsKey = (id: string): string => `delivery:${id}:events`;
const byOrderKey = (orderId: string): string => `delivery:by-order:${orderId}`;
const byTrackingKey = (trackingNumber: string): string => `delivery:by-tracking:${trackingNumber}`;
const byRecipientKey = (userId: string): string => `delivery:by-recipient:${userId}`;
const appliedEventKey = (eventId: string): string => `delivery:applied-event:${eventId}`;
const cancelledOrderKey = (orderId: string): string => `delivery:cancelled-order:${orderId}`;

export const isDeliveryId = (value: string): boolean => DELIVERY_ID.test(value);
export const isTrackingNumber = (value: string): boolean => TRACKING_NUMBER.test(value);

/** A committed transition: the delivery after it, where it came from, its tracking event. */
export interface StatusChange {
  readonly delivery: DeliveryRecord;
  readonly previousStatus: DeliveryStatus;
  readonly entry: TrackingEntry;
}

/** Builds the envelope JSON of the event a change produces (events.ts). */
export type EventFor = (change: StatusChange) => string;

class WatchedKeyChanged extends Error {}

/** Connections that WATCH: each transaction has one to itself while it runs. */
class TransactionConnections {
  private readonly idle: Redis[] = [];
  private readonly waiting: ((connection: Redis) => void)[] = [];
  private opened = 0;

  constructor(
    private readonly base: Redis,
    private readonly max: number,
  ) {}

  async use<T>(work: (connection: Redis) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.idle.map((connection) => connection.quit().catch(() => undefined)));
  }

  private acquire(): Promise<Redis> {
    const ready = this.idle.pop();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.opened < this.max) {
      this.opened += 1;
      return Promise.resolve(this.base.duplicate());
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(connection: Redis): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(connection);
    else this.idle.push(connection);
  }
}

export class DeliveryStore {
  private readonly transactions: TransactionConnections;

  constructor(private readonly redis: Redis) {
    this.transactions = new TransactionConnections(redis, 8);
  }

  async close(): Promise<void> {
    await this.transactions.close();
  }

  // Reads: each costs a fixed number of round trips, however many keys.

  /** The deliveries with these ids (null where there is none): one MGET. */
  deliveries(deliveryIds: readonly string[]): Promise<(DeliveryRecord | null)[]> {
    return storeCall("DeliveryStore.deliveries", async () => {
      const valid = [...new Set(deliveryIds.filter(isDeliveryId))].sort();
      const found = new Map<string, DeliveryRecord>();
      if (valid.length > 0) {
        const raws = await this.mget(this.redis, valid.map(deliveryKey));
        valid.forEach((id, index) => {
          const raw = raws[index];
          if (raw !== null && raw !== undefined) found.set(id, recordFromJson(raw));
        });
      }
      return deliveryIds.map((id) => found.get(id) ?? null);
    });
  }

  /** Each order's delivery (null where it has none): two MGETs. */
  deliveriesForOrders(orderIds: readonly string[]): Promise<(DeliveryRecord | null)[]> {
    return storeCall("DeliveryStore.deliveries_for_orders", async () => {
      if (orderIds.length === 0) return [];
      const deliveryIds = await this.mget(this.redis, orderIds.map(byOrderKey));
      const records = await this.deliveries(deliveryIds.filter((id): id is string => id !== null && id !== ""));
      const byId = new Map(records.filter((r): r is DeliveryRecord => r !== null).map((r) => [r.id, r]));
      return deliveryIds.map((id) => (id === null ? null : (byId.get(id) ?? null)));
    });
  }

  /** Each user's deliveries, newest first: one pipeline of ZREVRANGE, one MGET. */
  deliveriesForRecipients(userIds: readonly string[]): Promise<DeliveryRecord[][]> {
    return storeCall("DeliveryStore.deliveries_for_recipients", async () => {
      if (userIds.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const userId of userIds) pipeline.zrevrange(byRecipientKey(userId), 0, -1);
      roundTrip("PIPELINE ZREVRANGE");
      const idLists = results<string[]>(await pipeline.exec());
      const records = await this.deliveries(idLists.flat());
      const byId = new Map(records.filter((r): r is DeliveryRecord => r !== null).map((r) => [r.id, r]));
      return idLists.map((ids) => ids.flatMap((id) => byId.get(id) ?? []));
    });
  }

  /** Each delivery's tracking events, oldest first: one pipeline of LRANGE. */
  trackingEvents(deliveryIds: readonly string[]): Promise<TrackingEntry[][]> {
    return storeCall("DeliveryStore.tracking_events", async () => {
      const valid = deliveryIds.filter(isDeliveryId);
      const found = new Map<string, TrackingEntry[]>();
      if (valid.length > 0) {
        const pipeline = this.redis.pipeline();
        for (const id of valid) pipeline.lrange(trackingEventsKey(id), 0, -1);
        roundTrip("PIPELINE LRANGE");
        const rawLists = results<string[]>(await pipeline.exec());
        valid.forEach((id, index) => found.set(id, (rawLists[index] ?? []).map(entryFromJson)));
      }
      return deliveryIds.map((id) => found.get(id) ?? []);
    });
  }

  deliveryIdForTrackingNumber(trackingNumber: string): Promise<string | null> {
    return storeCall("DeliveryStore.delivery_id_for_tracking_number", async () => {
      if (!isTrackingNumber(trackingNumber)) return null;
      roundTrip("GET");
      return this.redis.get(byTrackingKey(trackingNumber));
    });
  }

  // Changes: each one optimistic WATCH ... MULTI/EXEC transaction.

  /**
   * Creates the order's delivery unless the event was applied, the order already has a
   * delivery, or the order was cancelled. True if created.
   */
  createDelivery(
    delivery: DeliveryRecord,
    firstEntry: TrackingEntry,
    eventJson: string,
    appliedEventId: string,
  ): Promise<boolean> {
    return storeCall("DeliveryStore.create_delivery", () => {
      const guards = [appliedEventKey(appliedEventId), byOrderKey(delivery.orderId), cancelledOrderKey(delivery.orderId)];
      return this.optimistic(guards, async (connection) => {
        if ((await this.mget(connection, guards)).some((value) => value !== null)) return { result: false };
        const transaction = connection
          .multi()
          .set(deliveryKey(delivery.id), recordToJson(delivery))
          .rpush(trackingEventsKey(delivery.id), entryToJson(firstEntry))
          .set(byOrderKey(delivery.orderId), delivery.id)
          .set(byTrackingKey(delivery.trackingNumber), delivery.id)
          .zadd(byRecipientKey(delivery.recipientId), epochSeconds(parseInstant(delivery.createdAt)), delivery.id)
          .set(appliedEventKey(appliedEventId), "1", "EX", APPLIED_EVENT_TTL_SECONDS)
          .rpush(OUTBOX_KEY, eventJson);
        return { result: true, transaction };
      });
    });
  }

  /**
   * Records that the order was cancelled (so no delivery is created for it later) and
   * cancels its delivery if that is still SCHEDULED. Returns the cancellation, or null when
   * there was nothing to cancel (no delivery yet, already on its way, or applied before).
   */
  cancelForOrder(orderId: string, cancelledAt: string, appliedEventId: string, eventFor: EventFor): Promise<StatusChange | null> {
    return storeCall("DeliveryStore.cancel_for_order", () => {
      const marker = appliedEventKey(appliedEventId);
      return this.optimistic([marker, byOrderKey(orderId)], async (connection) => {
        const [applied, deliveryId] = await this.mget(connection, [marker, byOrderKey(orderId)]);
        if (applied !== null && applied !== undefined) return { result: null };
        let current: DeliveryRecord | null = null;
        if (deliveryId !== null && deliveryId !== undefined) {
          roundTrip("WATCH");
          await connection.watch(deliveryKey(deliveryId));
          roundTrip("GET");
          const raw = await connection.get(deliveryKey(deliveryId));
          current = raw === null ? null : recordFromJson(raw);
        }
        const transaction = connection
          .multi()
          .set(cancelledOrderKey(orderId), cancelledAt)
          .set(marker, "1", "EX", APPLIED_EVENT_TTL_SECONDS);
        let change: StatusChange | null = null;
        if (current !== null && CANCELLABLE.includes(current.status)) {
          change = transition(current, "CANCELLED", CANCELLED_NOTE, cancelledAt);
          queueChange(transaction, change, eventFor(change));
        }
        return { result: change, transaction };
      });
    });
  }

  /** A carrier's status update, allowed only along rules.ts' CARRIER_TRANSITIONS. */
  changeStatus(deliveryId: string, status: DeliveryStatus, note: string | null, at: string, eventFor: EventFor): Promise<StatusChange> {
    return storeCall("DeliveryStore.change_status", () => {
      if (!isDeliveryId(deliveryId)) throw notFound(`There is no delivery '${deliveryId}'.`);
      const key = deliveryKey(deliveryId);
      return this.optimistic([key], async (connection) => {
        roundTrip("GET");
        const raw = await connection.get(key);
        if (raw === null) throw notFound(`There is no delivery '${deliveryId}'.`);
        const current = recordFromJson(raw);
        checkCarrierMove(current.status, status);
        const change = transition(current, status, note, at);
        const transaction = connection.multi();
        queueChange(transaction, change, eventFor(change));
        return { result: change, transaction };
      });
    });
  }

  // The outbox, drained by the relay (events.ts): one list, so one place, with the call
  // labels of the Python implementation's DeliveryOutbox (the N+1 test reads them by name).

  /** Everything in the list: a notification means "the list grew", not by how much. */
  outboxRead(): Promise<string[]> {
    return storeCall("DeliveryOutbox.read", () => this.outboxHead(-1));
  }

  /** The oldest unpublished events (a sweep), as envelope JSON. */
  outboxPending(limit: number): Promise<string[]> {
    return storeCall("DeliveryOutbox.pending", () => this.outboxHead(limit - 1));
  }

  /** Takes these published entries out of the list, in one round trip; entries added meanwhile stay. */
  outboxRemove(entries: readonly string[]): Promise<void> {
    return storeCall("DeliveryOutbox.remove", async () => {
      roundTrip("OUTBOX LREM");
      const removing = this.redis.pipeline();
      for (const entry of entries) removing.lrem(OUTBOX_KEY, 1, entry);
      results<number>(await removing.exec());
    });
  }

  /** How many events wait (at most `cap`), for /metrics: not counted as store work. */
  async outboxBacklog(cap: number): Promise<number> {
    return Math.min(await this.redis.llen(OUTBOX_KEY), cap);
  }

  private async outboxHead(last: number): Promise<string[]> {
    roundTrip("OUTBOX LRANGE");
    return this.redis.lrange(OUTBOX_KEY, 0, last);
  }

  // Plumbing.

  /**
   * Runs `attempt` with `watch` watched until its EXEC is not interrupted. An attempt that
   * decides to change nothing returns no transaction, and its watch is released.
   */
  private async optimistic<T>(
    watch: string[],
    attempt: (connection: Redis) => Promise<{ result: T; transaction?: ReturnType<Redis["multi"]> }>,
  ): Promise<T> {
    for (;;) {
      try {
        return await this.transactions.use(async (connection) => {
          roundTrip("WATCH");
          await connection.watch(...watch);
          let committed = false;
          try {
            const { result, transaction } = await attempt(connection);
            if (transaction !== undefined) {
              roundTrip("EXEC");
              committed = true;
              const replies = await transaction.exec();
              if (replies === null) throw new WatchedKeyChanged();
              for (const [error] of replies) if (error !== null) throw error;
            }
            return result;
          } finally {
            if (!committed) {
              roundTrip("UNWATCH");
              await connection.unwatch();
            }
          }
        });
      } catch (error) {
        if (!(error instanceof WatchedKeyChanged)) throw error;
        // a watched key changed before EXEC: read again
      }
    }
  }

  private async mget(client: Redis, keys: string[]): Promise<(string | null)[]> {
    roundTrip("MGET");
    return client.mget(keys);
  }
}

function queueChange(transaction: ReturnType<Redis["multi"]>, change: StatusChange, eventJson: string): void {
  transaction
    .set(deliveryKey(change.delivery.id), recordToJson(change.delivery))
    .rpush(trackingEventsKey(change.delivery.id), entryToJson(change.entry))
    .rpush(OUTBOX_KEY, eventJson);
}

function transition(current: DeliveryRecord, status: DeliveryStatus, note: string | null, at: string): StatusChange {
  return {
    delivery: { ...current, status, updatedAt: at },
    previousStatus: current.status,
    entry: { status, at, note },
  };
}

/** The replies of a pipeline, failing on the first command that failed. */
function results<T>(replies: [Error | null, unknown][] | null): T[] {
  if (replies === null) throw new Error("the pipeline was not executed");
  return replies.map(([error, reply]) => {
    if (error !== null) throw error;
    return reply as T;
  });
}
