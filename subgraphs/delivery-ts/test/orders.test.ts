// orders.ts: what delivery sends to orders' shipOrder and how it reads each answer, against a
// local HTTP server standing in for orders. (The contract suite checks the same through the
// running service, for both implementations.)

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, test } from "node:test";

import { SpanKind, context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

import { settingsFromEnv } from "../src/config.js";
import { ShopError } from "../src/errors.js";
import { OrdersClient, SHIP_ORDER, UNCONFIRMED } from "../src/orders.js";
import { contextFrom } from "../src/tracing.js";

const TOKEN = "Bearer header.payload.signature";
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const REFUSAL = "Order SG-000042 was cancelled and cannot ship.";

interface Received {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

interface Reply {
  readonly status?: number;
  readonly body: string;
  readonly delayMs?: number;
}

const json = (value: unknown, status = 200): Reply => ({ status, body: JSON.stringify(value) });
const shipped = (id: string): Reply => json({ data: { shipOrder: { id, status: "SHIPPED" } } });
const CONFLICT = json({ errors: [{ message: REFUSAL, extensions: { code: "CONFLICT" } }], data: { shipOrder: null } });

let server: Server;
let url: string;
let reply: Reply;
let received: Received[] = [];

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ method: request.method, headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      const { status = 200, body, delayMs = 0 } = reply;
      setTimeout(() => {
        if (response.destroyed) return;
        response.writeHead(status, { "content-type": "application/json" }).end(body);
      }, delayMs);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

afterEach(() => {
  received = [];
});

async function refusal(client: OrdersClient, orderId = "order-1"): Promise<ShopError> {
  try {
    await client.confirmShipment(orderId, TOKEN, null);
  } catch (error) {
    assert.ok(error instanceof ShopError, String(error));
    return error;
  }
  assert.fail("orders' answer was taken as a confirmation");
}

test("ORDERS_URL names the orders subgraph, by default the local stack's", () => {
  assert.equal(settingsFromEnv({}).ordersUrl, "http://127.0.0.1:4002/graphql");
  assert.equal(settingsFromEnv({ ORDERS_URL: "http://orders:4002/graphql" }).ordersUrl, "http://orders:4002/graphql");
});

test("a shipment is confirmed with one POST of shipOrder, the caller's token and trace", async () => {
  reply = shipped("order-1");
  await new OrdersClient(url).confirmShipment("order-1", TOKEN, TRACEPARENT);

  const [request] = received;
  assert.equal(received.length, 1);
  assert.equal(request?.method, "POST");
  assert.equal(request?.headers["content-type"], "application/json");
  assert.equal(request?.headers.authorization, TOKEN);
  assert.equal(request?.headers.traceparent, TRACEPARENT);
  assert.deepEqual(request?.body, { query: SHIP_ORDER, variables: { id: "order-1" } });
});

test("without a token or a trace, neither header is sent", async () => {
  reply = shipped("order-2");
  await new OrdersClient(url).confirmShipment("order-2", null, null);

  assert.equal(received[0]?.headers.authorization, undefined);
  assert.equal(received[0]?.headers.traceparent, undefined);
});

test("orders' CONFLICT is delivery's CONFLICT, with orders' message", async () => {
  reply = CONFLICT;
  const error = await refusal(new OrdersClient(url));

  assert.equal(error.message, REFUSAL);
  assert.deepEqual(error.extensions, { code: "CONFLICT" });
});

const UNUSABLE: Record<string, Reply> = {
  "HTTP 500": json({ errors: [{ message: "Internal server error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] }, 500),
  "HTTP 503 even with a CONFLICT body": { ...CONFLICT, status: 503 },
  "another error code": json({ errors: [{ message: "Not allowed.", extensions: { code: "FORBIDDEN" } }], data: null }),
  "an error with no code": json({ errors: [{ message: "Something." }], data: { shipOrder: null } }),
  "shipOrder null without errors": json({ data: { shipOrder: null } }),
  "no data": json({}),
  "data and errors both": json({ data: { shipOrder: { id: "order-1", status: "SHIPPED" } }, errors: [{ message: "partial" }] }),
  "a JSON array": json([]),
  "not JSON": { body: "<html>bad gateway</html>" },
  "an answer after the timeout": { ...shipped("order-1"), delayMs: 500 },
};

for (const [what, answer] of Object.entries(UNUSABLE)) {
  test(`${what}: a retryable SERVICE_UNAVAILABLE`, async () => {
    reply = answer;
    const error = await refusal(new OrdersClient(url, null, 200));

    assert.equal(error.message, UNCONFIRMED);
    assert.deepEqual(error.extensions, { code: "SERVICE_UNAVAILABLE", retryable: true, retryAfterSeconds: 1 });
  });
}

test("orders unreachable: a retryable SERVICE_UNAVAILABLE", async () => {
  const closed = createServer();
  closed.listen(0, "127.0.0.1");
  await once(closed, "listening");
  const nowhere = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/graphql`;
  await new Promise((resolve) => closed.close(resolve));

  const error = await refusal(new OrdersClient(nowhere));

  assert.deepEqual(error.extensions, { code: "SERVICE_UNAVAILABLE", retryable: true, retryAfterSeconds: 1 });
});

test("traced, the call is a CLIENT span of the request's, and orders is sent that span's context", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer("test");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  try {
    reply = shipped("order-3");
    const request = tracer.startSpan("POST /graphql", { kind: SpanKind.SERVER }, contextFrom(TRACEPARENT));
    await context.with(trace.setSpan(context.active(), request), () =>
      new OrdersClient(url, tracer).confirmShipment("order-3", TOKEN, TRACEPARENT),
    );
    request.end();

    const [call] = exporter.getFinishedSpans().filter((span) => span.name === "orders shipOrder");
    assert.ok(call !== undefined);
    assert.equal(call.kind, SpanKind.CLIENT);
    assert.equal(call.parentSpanContext?.spanId, request.spanContext().spanId);
    const { traceId, spanId } = call.spanContext();
    assert.equal(received[0]?.headers.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(traceId, "0af7651916cd43dd8448eb211c80319c");
  } finally {
    context.disable();
    await provider.shutdown();
  }
});
