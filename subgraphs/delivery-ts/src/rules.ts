// The delivery service's rules (subgraphs/delivery/src/delivery/rules.py states them too; the
// contract suite checks that both apply the same): a delivery's statuses and moves, and how
// one is scheduled.
//
//   SCHEDULED   -> IN_TRANSIT, FAILED     a carrier's update (an ADMIN: updateDeliveryStatus)
//   IN_TRANSIT  -> DELIVERED, FAILED      a carrier's update
//   SCHEDULED   -> CANCELLED              order.cancelled, and nothing else
//
// The store applies these inside its transactions (store.ts). A move to IN_TRANSIT is first
// confirmed by orders (orders.ts), which decides, on the order alone, whether it may still be
// cancelled: once orders has marked the order shipped it refuses cancelOrder; once the order is
// cancelled it refuses the shipment, and so does delivery.

import { createHash, randomBytes } from "node:crypto";

import { conflict } from "./errors.js";
import { formatInstant, type Instant } from "./times.js";

export const STATUSES = ["SCHEDULED", "IN_TRANSIT", "DELIVERED", "FAILED", "CANCELLED"] as const;
export type DeliveryStatus = (typeof STATUSES)[number];

/** What the carrier (an ADMIN through updateDeliveryStatus) may do; only order.cancelled cancels. */
export const CARRIER_TRANSITIONS: Readonly<Partial<Record<DeliveryStatus, readonly DeliveryStatus[]>>> = {
  SCHEDULED: ["IN_TRANSIT", "FAILED"],
  IN_TRANSIT: ["DELIVERED", "FAILED"],
};
export const CANCELLABLE: readonly DeliveryStatus[] = ["SCHEDULED"];
/** The carrier takes the parcel: from here on the order can no longer be cancelled, so orders must agree first. */
export const NEEDS_ORDERS_CONFIRMATION: readonly DeliveryStatus[] = ["IN_TRANSIT"];

/** Throws CONFLICT unless the carrier may move a `current` delivery to `status`. */
export function checkCarrierMove(current: DeliveryStatus, status: DeliveryStatus): void {
  if (!(CARRIER_TRANSITIONS[current] ?? []).includes(status)) {
    throw conflict(`A ${current} delivery cannot become ${status}.`, { status: current });
  }
}

const CARRIERS = ["DHL", "UPS", "DPD", "PostNL"] as const;

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
