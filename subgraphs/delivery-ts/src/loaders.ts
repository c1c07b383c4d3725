// Per-request DataLoaders: every load in one tick becomes one batched store call.

import DataLoader from "dataloader";

import type { DeliveryRecord, TrackingEntry } from "./records.js";
import type { DeliveryStore } from "./store.js";

export class Loaders {
  readonly delivery: DataLoader<string, DeliveryRecord | null>;
  readonly deliveryForOrder: DataLoader<string, DeliveryRecord | null>;
  readonly deliveriesForRecipient: DataLoader<string, DeliveryRecord[]>;
  readonly trackingEvents: DataLoader<string, TrackingEntry[]>;

  constructor(store: DeliveryStore) {
    this.delivery = new DataLoader((ids) => store.deliveries(ids));
    this.deliveryForOrder = new DataLoader(async (orderIds) => {
      const records = await store.deliveriesForOrders(orderIds);
      this.remember(records.filter((record): record is DeliveryRecord => record !== null));
      return records;
    });
    this.deliveriesForRecipient = new DataLoader(async (userIds) => {
      const lists = await store.deliveriesForRecipients(userIds);
      this.remember(lists.flat());
      return lists;
    });
    this.trackingEvents = new DataLoader((ids) => store.trackingEvents(ids));
  }

  /** Later loads of the same deliveries by id are answered without Redis. */
  private remember(records: readonly DeliveryRecord[]): void {
    for (const record of records) this.delivery.prime(record.id, record);
  }
}
