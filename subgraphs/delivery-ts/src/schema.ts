// The delivery subgraph: Delivery and its tracking, plus Order.delivery and User.deliveries.
//
// Who sees what:
// - `delivery(id)`, `Order.delivery` and `Delivery` entity references: the recipient or an
//   ADMIN, FORBIDDEN for anyone else;
// - `User.deliveries`: that user or an ADMIN;
// - `trackDelivery(trackingNumber)` needs no token: whoever holds the unguessable tracking
//   number sees the parcel's progress. The recipient's personal data (`recipient`,
//   `address`) still needs the recipient's or an ADMIN's token.

import { readFileSync } from "node:fs";

import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/index.js";
import { GraphQLScalarType, parse, type GraphQLSchema } from "graphql";

import { requireAdmin, requireOwner, requirePrincipal, type Principal } from "./auth.js";
import type { Context } from "./context.js";
import { badUserInput, notFound } from "./errors.js";
import { deliveryStatusChanged } from "./events.js";
import type { Address, DeliveryRecord, TrackingEntry } from "./records.js";
import { NEEDS_ORDERS_CONFIRMATION, checkCarrierMove, type DeliveryStatus } from "./rules.js";
import { formatInstant, now, utcIso } from "./times.js";

const MAX_NOTE_LENGTH = 500;

export const typeDefs = readFileSync(new URL("../../src/schema.graphql", import.meta.url), "utf8");

interface Reference {
  readonly id: string;
}

/** The delivery, if the caller is its recipient or an ADMIN; FORBIDDEN otherwise. */
function visibleTo(principal: Principal | null, record: DeliveryRecord): DeliveryRecord {
  requireOwner(principal, record.recipientId, "delivery");
  return record;
}

function cleanNote(note: string | null | undefined): string | null {
  const text = note?.trim() ?? "";
  if (text === "") return null;
  if ([...text].length > MAX_NOTE_LENGTH) {
    throw badUserInput(`note must be at most ${MAX_NOTE_LENGTH} characters.`, "note");
  }
  return text;
}

const dateTime = new GraphQLScalarType<string, string>({
  name: "DateTime",
  description: "Date with time (isoformat)",
  serialize: (value) => String(value),
});

const resolvers: GraphQLResolverMap<Context> = {
  DateTime: dateTime,
  Query: {
    async delivery(_: unknown, { id }: { id: string }, context: Context): Promise<DeliveryRecord | null> {
      const principal = requirePrincipal(context.auth.principal());
      const record = await context.loaders.delivery.load(id);
      return record === null ? null : visibleTo(principal, record);
    },
    async trackDelivery(_: unknown, { trackingNumber }: { trackingNumber: string }, context: Context): Promise<DeliveryRecord | null> {
      const deliveryId = await context.store.deliveryIdForTrackingNumber(trackingNumber.trim());
      return deliveryId === null ? null : context.loaders.delivery.load(deliveryId);
    },
  },
  Mutation: {
    async updateDeliveryStatus(
      _: unknown,
      { id, status, note }: { id: string; status: DeliveryStatus; note?: string | null },
      context: Context,
    ): Promise<DeliveryRecord> {
      requireAdmin(context.auth.principal());
      const cleanedNote = cleanNote(note);
      if (NEEDS_ORDERS_CONFIRMATION.includes(status)) {
        const record = await context.loaders.delivery.load(id);
        if (record === null) throw notFound(`There is no delivery '${id}'.`);
        // Refuse what the store would refuse before orders is told the parcel ships.
        checkCarrierMove(record.status, status);
        await context.orders.confirmShipment(record.orderId, context.authorization, context.traceparent);
      }
      const change = await context.store.changeStatus(id, status, cleanedNote, formatInstant(now()), (made) =>
        deliveryStatusChanged(made, context.traceparent),
      );
      context.outboxWritten();
      return change.delivery;
    },
  },
  Order: {
    __resolveReference: (reference: Reference): Reference => ({ id: reference.id }),
    async delivery(order: Reference, _: unknown, context: Context): Promise<DeliveryRecord | null> {
      const principal = requirePrincipal(context.auth.principal());
      const record = await context.loaders.deliveryForOrder.load(order.id);
      return record === null ? null : visibleTo(principal, record);
    },
  },
  User: {
    __resolveReference: (reference: Reference): Reference => ({ id: reference.id }),
    async deliveries(user: Reference, _: unknown, context: Context): Promise<DeliveryRecord[]> {
      requireOwner(context.auth.principal(), user.id, "account");
      return context.loaders.deliveriesForRecipient.load(user.id);
    },
  },
  Delivery: {
    async __resolveReference(reference: Reference, context: Context): Promise<DeliveryRecord | null> {
      const principal = requirePrincipal(context.auth.principal());
      const record = await context.loaders.delivery.load(reference.id);
      return record === null ? null : visibleTo(principal, record);
    },
    estimatedDelivery: (record: DeliveryRecord): string | null =>
      record.estimatedDelivery === null ? null : utcIso(record.estimatedDelivery),
    updatedAt: (record: DeliveryRecord): string => utcIso(record.updatedAt),
    order: (record: DeliveryRecord): Reference => ({ id: record.orderId }),
    recipient(record: DeliveryRecord, _: unknown, context: Context): Reference {
      requireOwner(context.auth.principal(), record.recipientId, "delivery");
      return { id: record.recipientId };
    },
    address(record: DeliveryRecord, _: unknown, context: Context): Address {
      requireOwner(context.auth.principal(), record.recipientId, "delivery");
      return record.address;
    },
    async events(record: DeliveryRecord, _: unknown, context: Context): Promise<TrackingEntry[]> {
      const entries = await context.loaders.trackingEvents.load(record.id);
      return entries.map((entry) => ({ ...entry, at: utcIso(entry.at) }));
    },
  },
};

export function buildSchema(): GraphQLSchema {
  // buildSubgraphSchema types its resolver map's context as unknown; ours all take Context.
  return buildSubgraphSchema({ typeDefs: parse(typeDefs), resolvers: resolvers as GraphQLResolverMap<unknown> });
}
