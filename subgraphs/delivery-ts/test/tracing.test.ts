// tracing.ts: request, consumer and Redis spans linked by the W3C trace context, against a real
// redis-server and a real HTTP server, with spans kept in memory.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { after, before, beforeEach, test } from "node:test";

import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { Redis } from "ioredis";

import type { Context } from "../src/context.js";
import { envelopeToJson, newEnvelope } from "../src/envelope.js";
import { createHttpServer } from "../src/http.js";
import { logLine } from "../src/log.js";
import { Probes } from "../src/probes.js";
import { buildSchema } from "../src/schema.js";
import { EVENT_FIELD, StreamConsumer } from "../src/streams.js";
import { contextFrom, traceRedis, traceparentOr, tracingFor } from "../src/tracing.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID = "b7ad6b7169203331";
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer: Tracer = provider.getTracer("test");

let redisServer: ChildProcess;
let redisPort: number;
const clients: Redis[] = [];

async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function eventually<T>(read: () => T | undefined, what: string, deadlineMs = 20_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function client(db = 0): Redis {
  const redis = new Redis({ host: "127.0.0.1", port: redisPort, db, maxRetriesPerRequest: 1 });
  clients.push(redis);
  return redis;
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

before(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  redisPort = await freePort();
  redisServer = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = new Redis({ host: "127.0.0.1", port: redisPort, lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => undefined); // refused until the server listens: connect() rejects with it
    try {
      await probe.connect();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
});

after(async () => {
  await Promise.all(clients.map((redis) => redis.quit().catch(() => undefined)));
  redisServer.kill();
  await provider.shutdown();
  context.disable();
});

beforeEach(() => exporter.reset());

test("no endpoint: no tracing, and events carry the caller's traceparent", async () => {
  assert.equal(await tracingFor("delivery", null), null);
  assert.equal(traceparentOr(TRACEPARENT), TRACEPARENT);
  assert.equal(traceparentOr(null), null);
});

test("inside a span, events carry that span's traceparent", () => {
  const span = tracer.startSpan("work", {}, contextFrom(TRACEPARENT));
  const carried = context.with(trace.setSpan(context.active(), span), () => traceparentOr(TRACEPARENT));
  span.end();
  assert.equal(carried, `00-${TRACE_ID}-${span.spanContext().spanId}-01`);
});

test("a log line inside a span names its trace and span; outside one it names none", () => {
  const outside = JSON.parse(logLine("delivery.events", "INFO", "hello", undefined, new Date(Date.UTC(2026, 10, 30, 9, 15, 2, 123))));
  assert.deepEqual(outside, { time: "2026-11-30T09:15:02.123+00:00", level: "INFO", logger: "delivery.events", message: "hello" });
  const span = tracer.startSpan("work", {}, contextFrom(TRACEPARENT));
  const inside = JSON.parse(context.with(trace.setSpan(context.active(), span), () => logLine("x", "ERROR", "failed", new Error("boom"))));
  span.end();
  assert.equal(inside.trace_id, TRACE_ID);
  assert.equal(inside.span_id, span.spanContext().spanId);
  assert.match(inside.exception, /^Error: boom/);
});

test("a request is a SERVER span continuing the caller's traceparent; probes and scrapes are not", async () => {
  const apollo = new ApolloServer<Context>({ schema: buildSchema(), plugins: [ApolloServerPluginInlineTraceDisabled()] });
  await apollo.start();
  let carried: string | null = null;
  const server = createHttpServer({
    apollo,
    // The operation below reads nothing of the context: what matters is the trace it is built in.
    context: async () => {
      carried = traceparentOr(null);
      return {} as Context;
    },
    readiness: {},
    explorerAssets: new Map(),
    probes: new Probes(),
    tracer,
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: TRACEPARENT },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    assert.equal(response.status, 200);
    assert.equal((await fetch(`${base}/health/live`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
    assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    const request = await eventually(() => named("POST /graphql")[0], "the request's span");
    assert.equal(request.kind, SpanKind.SERVER);
    assert.equal(request.spanContext().traceId, TRACE_ID);
    assert.equal(parentOf(request), CALLER_SPAN_ID);
    assert.deepEqual(request.attributes, {
      "http.request.method": "POST",
      "url.path": "/graphql",
      "url.scheme": "http",
      "http.response.status_code": 200,
    });
    assert.equal(carried, `00-${TRACE_ID}-${request.spanContext().spanId}-01`);
    const notFound = await eventually(() => named("GET /nowhere")[0], "the 404's span");
    assert.equal(notFound.attributes["http.response.status_code"], 404);
    assert.notEqual(notFound.spanContext().traceId, TRACE_ID); // no traceparent: a trace of its own
    assert.deepEqual(spans().map((span) => span.name).sort(), ["GET /nowhere", "POST /graphql"]);
  } finally {
    server.close();
    await apollo.stop();
  }
});

test("Redis commands, pipelines and transactions inside a span are CLIENT spans of it; outside one, none", async () => {
  const redis = traceRedis(client(3), tracer);
  const duplicate = redis.duplicate();
  clients.push(duplicate);
  await redis.set("untraced", "1"); // no span is current
  const work = tracer.startSpan("work", {}, contextFrom(TRACEPARENT));
  await context.with(trace.setSpan(context.active(), work), async () => {
    await redis.mget("a", "b");
    await redis.pipeline().get("a").incr("n").exec();
    await redis.watch("a");
    await redis.multi().set("a", "1").rpush("l", "x").exec();
    await duplicate.get("a");
    await assert.rejects(redis.incr("l")); // WRONGTYPE: the span says it failed
  });
  work.end();
  const client_spans = spans().filter((span) => span.kind === SpanKind.CLIENT);
  assert.deepEqual(client_spans.map((span) => span.name), ["MGET", "PIPELINE", "WATCH", "MULTI", "GET", "INCR"]);
  for (const span of client_spans) {
    assert.equal(parentOf(span), work.spanContext().spanId, span.name);
    assert.equal(span.spanContext().traceId, TRACE_ID);
    assert.equal(span.attributes["db.system.name"], "redis");
    assert.equal(span.attributes["db.operation.name"], span.name);
    assert.equal(span.attributes["db.namespace"], "3");
    assert.equal(span.attributes["server.address"], "127.0.0.1");
    assert.equal(span.attributes["server.port"], redisPort);
  }
  const [pipeline, transaction, failed] = ["PIPELINE", "MULTI", "INCR"].map((name) => named(name)[0]);
  assert.equal(pipeline?.attributes["db.operation.batch.size"], 2);
  assert.equal(pipeline?.attributes["db.query.summary"], "GET INCR");
  assert.equal(transaction?.attributes["db.operation.batch.size"], 2);
  assert.equal(transaction?.attributes["db.query.summary"], "SET RPUSH");
  assert.equal(failed?.status.code, SpanStatusCode.ERROR);
  assert.equal(await redis.get("a"), "1"); // the transaction ran
});

test("each attempt at an event is a CONSUMER span under the event's traceparent, its ack inside it", async () => {
  const stream = `test.events.${process.pid}`;
  const redis = traceRedis(client(0), tracer);
  const handled: string[] = [];
  let carried: string | null = null;
  const connection = redis.duplicate();
  clients.push(connection);
  const consumer = new StreamConsumer(connection, "test-group", "test-consumer", [stream], async (event) => {
    handled.push(event.id);
    carried = traceparentOr(event.traceparent);
    if (handled.length === 1) throw new Error("first attempt fails");
  }, tracer);
  const event = newEnvelope("test.happened", "test", TRACEPARENT, { orderId: "o1" });
  const controller = new AbortController();
  const running = consumer.run(controller.signal);
  try {
    await client(0).xadd(stream, "*", EVENT_FIELD, envelopeToJson(event));
    await eventually(() => (named("handle test.happened").length === 2 ? true : undefined), "the failed attempt and its retry");
  } finally {
    controller.abort();
    await running;
  }
  const [first, second] = named("handle test.happened");
  assert.ok(first !== undefined && second !== undefined);
  assert.deepEqual(handled, [event.id, event.id]);
  for (const attempt of [first, second]) {
    assert.equal(attempt.kind, SpanKind.CONSUMER);
    assert.equal(attempt.spanContext().traceId, TRACE_ID);
    assert.equal(parentOf(attempt), CALLER_SPAN_ID);
    assert.deepEqual(attempt.attributes, {
      "messaging.system": "redis",
      "messaging.operation.type": "process",
      "messaging.destination.name": stream,
      "messaging.consumer.group.name": "test-group",
      "messaging.message.id": event.id,
      "shopgraph.event.type": "test.happened",
    });
  }
  assert.equal(first.status.code, SpanStatusCode.ERROR);
  assert.equal(first.status.message, "first attempt fails");
  assert.equal(second.status.code, SpanStatusCode.UNSET);
  assert.equal(carried, `00-${TRACE_ID}-${second.spanContext().spanId}-01`);
  // Only the work of an attempt is traced: its ack, not the consumer's polling.
  const stores = spans().filter((span) => span.kind === SpanKind.CLIENT);
  assert.deepEqual(stores.map((span) => [span.name, parentOf(span)]), [["XACK", second.spanContext().spanId]]);
});
