import { STATUSES, type DeliveryStatus } from "./rules.js";

// What the store holds, and its JSON: the layout is the table in the Python delivery's
// store module (subgraphs/delivery/src/delivery/store.py), which both implementations
// read and write. Field names and value formats are the contract; the JSON's spacing is not.

export interface Address {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
}

/** Times are kept as the ISO-8601 strings stored (see times.ts). */
export interface DeliveryRecord {
  readonly id: string;
  readonly orderId: string;
  readonly recipientId: string;
  readonly status: DeliveryStatus;
  readonly carrier: string;
  readonly trackingNumber: string;
  readonly address: Address;
  readonly estimatedDelivery: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface TrackingEntry {
  readonly status: DeliveryStatus;
  readonly at: string;
  readonly note: string | null;
}

export function recordToJson(record: DeliveryRecord): string {
  // The keys in the order the Python implementation writes them.
  const { id, orderId, recipientId, status, carrier, trackingNumber, address, estimatedDelivery, createdAt, updatedAt } =
    record;
  const { line1, line2, city, postalCode, country } = address;
  return JSON.stringify({
    id, orderId, recipientId, status, carrier, trackingNumber,
    address: { line1, line2, city, postalCode, country },
    estimatedDelivery, createdAt, updatedAt,
  });
}

export function recordFromJson(raw: string): DeliveryRecord {
  const doc = object(JSON.parse(raw), "delivery");
  return {
    id: text(doc, "id"),
    orderId: text(doc, "orderId"),
    recipientId: text(doc, "recipientId"),
    status: status(doc["status"]),
    carrier: text(doc, "carrier"),
    trackingNumber: text(doc, "trackingNumber"),
    address: addressFrom(doc["address"]),
    estimatedDelivery: optionalText(doc, "estimatedDelivery"),
    createdAt: text(doc, "createdAt"),
    updatedAt: text(doc, "updatedAt"),
  };
}

export function entryToJson(entry: TrackingEntry): string {
  return JSON.stringify({ status: entry.status, at: entry.at, note: entry.note });
}

export function entryFromJson(raw: string): TrackingEntry {
  const doc = object(JSON.parse(raw), "tracking event");
  return { status: status(doc["status"]), at: text(doc, "at"), note: optionalText(doc, "note") };
}

function addressFrom(value: unknown): Address {
  const doc = object(value, "address");
  return {
    line1: text(doc, "line1"),
    line2: optionalText(doc, "line2"),
    city: text(doc, "city"),
    postalCode: text(doc, "postalCode"),
    country: text(doc, "country"),
  };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`a stored ${what} is not an object`);
  return value as Record<string, unknown>;
}

function text(doc: Record<string, unknown>, field: string): string {
  const value = doc[field];
  if (typeof value !== "string") throw new Error(`a stored field ${field} is not a string`);
  return value;
}

function optionalText(doc: Record<string, unknown>, field: string): string | null {
  const value = doc[field];
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new Error(`a stored field ${field} is not a string`);
  return value;
}

function status(value: unknown): DeliveryStatus {
  if (!STATUSES.includes(value as DeliveryStatus)) throw new Error(`unknown delivery status ${JSON.stringify(value)}`);
  return value as DeliveryStatus;
}
