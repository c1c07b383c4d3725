// Traces: an OpenTelemetry span per HTTP request, per event handled and per Redis call, as
// shopkit.tracing gives every Python service (docs/architecture.md, "Traces"), with the same
// span names, kinds and attributes.
//
// Off unless the settings name an OTLP endpoint (TRACING_ENDPOINT): then `tracingFor` loads the
// SDK, registers the context manager and returns the service's tracer, which the app hands to
// what records spans (the HTTP server, the consumer, `traceRedis`). Without one, the SDK is
// never loaded and nothing is wrapped: the API's no-op context keeps `traceparentOr` returning
// its fallback and `recording()` false.
//
// A request's span continues the caller's W3C `traceparent` (the router's); every event written
// while it is current carries its context (`traceparentOr`), and the consumer that handles the
// event records its span as a child of it (`consuming`), so one checkout is one trace across the
// event hops. Redis spans are only recorded inside one of those (a consumer's idle polling is no
// one's work). GraphQL resolvers get no spans of their own.

import { hostname } from "node:os";

import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Exception,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator, isTracingSuppressed, suppressTracing } from "@opentelemetry/core";
import type { ChainableCommander, Redis } from "ioredis";

/** Spans leave the process in batches at least this often, so a trace is complete seconds after the work. */
export const EXPORT_DELAY_MS = 1000;
/** At most this long flushing the last spans on shutdown: an unreachable collector must not hold up a stop. */
const SHUTDOWN_FLUSH_MS = 2000;
const W3C = new W3CTraceContextPropagator();

export interface Tracing {
  readonly tracer: Tracer;
  /** Exports what is still buffered (for at most SHUTDOWN_FLUSH_MS) and stops (on SIGTERM). */
  shutdown(): Promise<void>;
}

/** The service's tracing, exporting over OTLP/HTTP to `endpoint` (its base URL); null without one. */
export async function tracingFor(service: string, endpoint: string | null): Promise<Tracing | null> {
  if (endpoint === null) return null;
  // Loaded only here: a process that does not trace does not load the SDK.
  const [{ BatchSpanProcessor, TracerProvider }, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/context-async-hooks"),
    ]);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      "service.name": service,
      "service.instance.id": `${hostname()}-${process.pid}`,
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: EXPORT_DELAY_MS })],
  });
  return {
    tracer: provider.getTracer("shopgraph-delivery-ts"),
    shutdown: () =>
      Promise.race([
        provider.shutdown(),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref()),
      ]),
  };
}

/** The trace context a W3C `traceparent` names (an empty one, the start of a trace, if it names none). */
export function contextFrom(traceparent: string | null | undefined, tracestate?: string | null): Context {
  const carrier: Record<string, string> = {};
  if (traceparent) carrier["traceparent"] = traceparent;
  if (tracestate) carrier["tracestate"] = tracestate;
  return W3C.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** The W3C `traceparent` of the current span, for the events this work causes; `fallback` outside one. */
export function traceparentOr(fallback: string | null): string | null {
  const span = trace.getActiveSpan();
  if (span === undefined || !isSpanContextValid(span.spanContext())) return fallback;
  const carrier: Record<string, string> = {};
  W3C.inject(context.active(), carrier, defaultTextMapSetter);
  return carrier["traceparent"] ?? fallback;
}

/** Whether a span is being recorded here: Redis calls are traced only inside one. */
export function recording(): boolean {
  return trace.getActiveSpan()?.isRecording() === true;
}

/** The current span's trace and span ids, for log lines; null outside a span. */
export function currentIds(): { traceId: string; spanId: string } | null {
  const span = trace.getActiveSpan();
  if (span === undefined) return null;
  const { traceId, spanId } = span.spanContext();
  return isSpanContextValid(span.spanContext()) ? { traceId, spanId } : null;
}

/** Marks the current span failed with `error` (work that failed without raising out of its span). */
export function recordFailure(error: unknown): void {
  const span = trace.getActiveSpan();
  if (span !== undefined && span.isRecording()) failed(span, error);
}

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : (String(error) as Exception));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

export interface Consumed {
  readonly eventType: string;
  readonly eventId: string;
  readonly traceparent: string | null;
  readonly stream: string;
  readonly group: string;
}

/** Runs one attempt at handling an event in its span: a child of the context the event was written in. */
export async function consuming<T>(tracer: Tracer | null, event: Consumed, work: () => Promise<T>): Promise<T> {
  if (tracer === null) return work();
  const attributes: Attributes = {
    "messaging.system": "redis",
    "messaging.operation.type": "process",
    "messaging.destination.name": event.stream,
    "messaging.consumer.group.name": event.group,
    "messaging.message.id": event.eventId,
    "shopgraph.event.type": event.eventType,
  };
  const options = { kind: SpanKind.CONSUMER, attributes };
  return tracer.startActiveSpan(`handle ${event.eventType}`, options, contextFrom(event.traceparent), (span) =>
    within(span, work),
  );
}

export interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
  /** The response's status code once `work` is done. */
  status(): number;
}

/** Runs the handling of one HTTP request in a SERVER span continuing the caller's trace. */
export async function serving(tracer: Tracer, request: ServedRequest, work: () => Promise<void>): Promise<void> {
  const attributes: Attributes = { "http.request.method": request.method, "url.path": request.path, "url.scheme": "http" };
  const parent = contextFrom(request.traceparent, request.tracestate);
  const options = { kind: SpanKind.SERVER, attributes };
  return tracer.startActiveSpan(`${request.method} ${request.path}`, options, parent, (span) =>
    within(span, work, () => {
      const status = request.status();
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }),
  );
}

async function within<T>(span: Span, work: () => Promise<T>, beforeEnd?: () => void): Promise<T> {
  try {
    return await work();
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    beforeEnd?.();
    span.end();
  }
}

// Redis.

/** The pipeline or transaction whose commands are being sent: their names, for its span. */
const BATCH = createContextKey("shopgraph redis batch");

interface Batching {
  multi(...args: unknown[]): unknown;
  pipeline(...args: unknown[]): unknown;
}

/**
 * Makes `redis` (and its duplicates) record a CLIENT span per command, and one per pipeline or
 * MULTI/EXEC transaction naming the commands it sent, when called inside a recorded span.
 */
export function traceRedis(redis: Redis, tracer: Tracer): Redis {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...sending: Parameters<Redis["sendCommand"]>): unknown => {
    const [command] = sending;
    const active = context.active();
    const names = active.getValue(BATCH);
    if (Array.isArray(names)) names.push(command.name.toUpperCase());
    if (isTracingSuppressed(active) || !recording()) return send(...sending);
    const operation = command.name.toUpperCase();
    const span = tracer.startSpan(operation, { kind: SpanKind.CLIENT, attributes: redisAttributes(redis, operation) });
    const sent = context.with(suppressTracing(trace.setSpan(active, span)), () => send(...sending));
    command.promise.then(
      () => span.end(),
      (error: unknown) => {
        failed(span, error);
        span.end();
      },
    );
    return sent;
  };
  const batching = redis as unknown as Batching;
  for (const method of ["multi", "pipeline"] as const) {
    const open = batching[method].bind(redis);
    batching[method] = (...args: unknown[]): unknown => {
      const batch = open(...args);
      return isBatch(batch) ? tracedBatch(batch, redis, tracer, method === "multi" ? "MULTI" : "PIPELINE") : batch;
    };
  }
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args) => traceRedis(duplicate(...args), tracer);
  return redis;
}

function isBatch(value: unknown): value is ChainableCommander {
  return typeof value === "object" && value !== null && typeof (value as { exec?: unknown }).exec === "function";
}

function tracedBatch(batch: ChainableCommander, redis: Redis, tracer: Tracer, operation: "MULTI" | "PIPELINE"): ChainableCommander {
  const exec = batch.exec.bind(batch);
  batch.exec = ((...args: Parameters<ChainableCommander["exec"]>) => {
    if (isTracingSuppressed(context.active()) || !recording()) return exec(...args);
    const span = tracer.startSpan(operation, { kind: SpanKind.CLIENT, attributes: redisAttributes(redis, operation) });
    const names: string[] = [];
    const sending = suppressTracing(trace.setSpan(context.active(), span)).setValue(BATCH, names);
    const result = context.with(sending, () => exec(...args));
    // The commands are written as exec is called; a transaction's own MULTI and EXEC are not its commands.
    const commands = operation === "MULTI" ? names.filter((name) => name !== "MULTI" && name !== "EXEC") : names;
    span.setAttribute("db.operation.batch.size", commands.length);
    span.setAttribute("db.query.summary", commands.join(" "));
    result.then(
      () => span.end(),
      (error: unknown) => {
        failed(span, error);
        span.end();
      },
    );
    return result;
  }) as ChainableCommander["exec"];
  return batch;
}

function redisAttributes(redis: Redis, operation: string): Attributes {
  const { db, host, port } = redis.options;
  return {
    "db.system.name": "redis",
    "db.operation.name": operation,
    "db.namespace": String(db ?? 0),
    "server.address": host ?? "",
    "server.port": port ?? 6379,
  };
}
