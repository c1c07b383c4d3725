// Asking the orders service to confirm a shipment: the one call delivery makes to another service
// (as subgraphs/delivery/src/delivery/orders.py; the wire contract is in tests/contract/README.md).
//
// Whether an order may still be cancelled is decided by orders alone, on the order. So before a
// parcel goes IN_TRANSIT, delivery calls the orders subgraph's `shipOrder` (kept out of the API
// schema with `@inaccessible`, so straight at ORDERS_URL, not through the router) with the
// carrier's ADMIN token. Orders marks the order SHIPPED and refuses cancelOrder from then on, or
// answers CONFLICT because the order was cancelled.

import { SpanKind, type Tracer } from "@opentelemetry/api";

import { conflict, retryLater } from "./errors.js";
import { logger } from "./log.js";
import { traceparentOr } from "./tracing.js";

export const SHIP_ORDER = "mutation ShipOrder($id: ID!) { shipOrder(id: $id) { id status } }";
export const TIMEOUT_MS = 2000;
export const UNCONFIRMED = "Orders could not confirm the shipment right now; retry shortly.";
const UNCONFIRMED_RETRY_AFTER_SECONDS = 1;
const REFUSED_WITHOUT_MESSAGE = "Orders refused the shipment.";

const log = logger("delivery.orders");

/** What orders answered, as parsed JSON; null when there was no answer to read. */
type Answer = Record<string, unknown> | null;

export interface ShipmentConfirmation {
  /**
   * Resolves once orders has marked the order shipped. Rejects with CONFLICT (orders' message)
   * if orders refuses, or a retryable SERVICE_UNAVAILABLE if it gave no usable answer.
   */
  confirmShipment(orderId: string, authorization: string | null, traceparent: string | null): Promise<void>;
}

export class OrdersClient implements ShipmentConfirmation {
  constructor(
    private readonly url: string,
    private readonly tracer: Tracer | null = null,
    private readonly timeoutMs: number = TIMEOUT_MS,
  ) {}

  async confirmShipment(orderId: string, authorization: string | null, traceparent: string | null): Promise<void> {
    const answer =
      this.tracer === null
        ? await this.shipOrder(orderId, authorization, traceparent)
        : await this.tracer.startActiveSpan("orders shipOrder", { kind: SpanKind.CLIENT }, async (span) => {
            try {
              // Sent as this span's context, so orders' spans are its children.
              return await this.shipOrder(orderId, authorization, traceparentOr(traceparent));
            } finally {
              span.end();
            }
          });
    const refusal = conflictMessage(answer);
    if (refusal !== null) throw conflict(refusal, {});
    if (!confirmed(answer)) throw retryLater(UNCONFIRMED, UNCONFIRMED_RETRY_AFTER_SECONDS);
  }

  private async shipOrder(orderId: string, authorization: string | null, traceparent: string | null): Promise<Answer> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (authorization !== null) headers["authorization"] = authorization;
    if (traceparent !== null) headers["traceparent"] = traceparent;
    let status: number;
    let answer: unknown;
    try {
      const response = await fetch(this.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: SHIP_ORDER, variables: { id: orderId } }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      // Only a 200 is read: anything else is no answer, whatever its body says.
      answer = status === 200 ? await response.json() : null;
      if (status !== 200) await response.body?.cancel();
    } catch (error) {
      log.warning(`shipOrder for order ${orderId}: no answer from orders (${describe(error)})`);
      return null;
    }
    if (!isObject(answer)) {
      log.warning(`shipOrder for order ${orderId}: HTTP ${status} from orders`);
      return null;
    }
    return answer;
  }
}

/** Orders' message when its first error is a CONFLICT: the order was cancelled. */
function conflictMessage(answer: Answer): string | null {
  const errors = answer?.["errors"];
  if (!Array.isArray(errors) || errors.length === 0) return null;
  const first: unknown = errors[0];
  if (!isObject(first)) return null;
  const extensions = first["extensions"];
  if (isObject(extensions) && extensions["code"] === "CONFLICT") {
    const message = first["message"];
    return typeof message === "string" ? message : REFUSED_WITHOUT_MESSAGE;
  }
  log.warning(`shipOrder: orders answered an error: ${JSON.stringify(first)}`);
  return null;
}

function confirmed(answer: Answer): boolean {
  if (answer === null) return false;
  const errors = answer["errors"];
  if (errors !== undefined && errors !== null && !(Array.isArray(errors) && errors.length === 0)) return false;
  const data = answer["data"];
  return isObject(data) && isObject(data["shipOrder"]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch reports a refused connection as "fetch failed", the reason in its cause.
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : `${error.name}: ${error.message}`;
}
