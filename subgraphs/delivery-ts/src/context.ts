// The per-request context every resolver sees: who is calling, loaders, the store, the trace.

import type { IncomingHttpHeaders } from "node:http";

import type { Principal, TokenVerifier } from "./auth.js";
import { ShopError } from "./errors.js";
import { Loaders } from "./loaders.js";
import type { ShipmentConfirmation } from "./orders.js";
import type { DeliveryStore } from "./store.js";
import { traceparentOr } from "./tracing.js";

/**
 * The caller, resolved once per request. A bad token does not fail the whole request: it
 * fails the first resolver that asks who is calling, so public fields (tracking) still answer.
 */
export class RequestAuth {
  constructor(
    private readonly principalOrNull: Principal | null,
    private readonly error: ShopError | null = null,
  ) {}

  principal(): Principal | null {
    if (this.error !== null) throw this.error;
    return this.principalOrNull;
  }
}

export interface Context {
  readonly auth: RequestAuth;
  readonly loaders: Loaders;
  readonly store: DeliveryStore;
  /** Asks orders before a parcel ships (orders.ts). */
  readonly orders: ShipmentConfirmation;
  /** The request's Authorization header as sent: a carrier update hands it on to orders. */
  readonly authorization: string | null;
  /** The W3C trace context carried on into events: the request's span when traced (tracing.ts), else the one the router propagated. */
  readonly traceparent: string | null;
  /** Wakes the outbox relay after a mutation wrote an event. */
  readonly outboxWritten: () => void;
}

export async function authenticate(headers: IncomingHttpHeaders, verifier: TokenVerifier): Promise<RequestAuth> {
  try {
    return new RequestAuth(await verifier.principalFromHeader(headers.authorization));
  } catch (error) {
    if (error instanceof ShopError) return new RequestAuth(null, error);
    throw error;
  }
}

export function makeContext(
  headers: IncomingHttpHeaders,
  auth: RequestAuth,
  store: DeliveryStore,
  orders: ShipmentConfirmation,
  outboxWritten: () => void,
): Context {
  const traceparent = headers.traceparent;
  return {
    auth,
    loaders: new Loaders(store),
    store,
    orders,
    authorization: headers.authorization ?? null,
    traceparent: traceparentOr(typeof traceparent === "string" ? traceparent : null),
    outboxWritten,
  };
}
