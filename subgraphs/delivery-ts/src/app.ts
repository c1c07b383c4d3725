// createApp(): the delivery subgraph with its Redis store, outbox relay and event consumer.

import type { Server } from "node:http";

import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import type { Tracer } from "@opentelemetry/api";
import { Redis } from "ioredis";

import { TokenVerifier } from "./auth.js";
import type { Settings } from "./config.js";
import { authenticate, makeContext, type Context } from "./context.js";
import { maskErrors } from "./errors.js";
import { EventHandlers, OutboxRelay, SERVICE, consumer } from "./events.js";
import { createHttpServer, runChecks } from "./http.js";
import { loadAssets } from "./explorer.js";
import { aliasLimit, depthLimit } from "./limits.js";
import { OrdersClient } from "./orders.js";
import { Probes, readinessReadings } from "./probes.js";
import { buildSchema } from "./schema.js";
import { DeliveryStore } from "./store.js";
import { Supervisor } from "./supervisor.js";
import { traceRedis, tracingFor } from "./tracing.js";

const READY_TIMEOUT_MS = 1000;

export interface App {
  readonly server: Server;
  stop(): Promise<void>;
}

export async function createApp(settings: Settings): Promise<App> {
  const explorerAssets = await loadAssets();
  const tracing = await tracingFor(SERVICE, settings.tracingEndpoint);
  const tracer = tracing?.tracer ?? null;
  const storeRedis = connect(settings.redisUrl, tracer);
  const eventsRedis = connect(settings.eventsRedisUrl, tracer);
  const consumerRedis = eventsRedis.duplicate(); // XREADGROUP blocks its connection (traced as its original)
  const store = new DeliveryStore(storeRedis);
  const probes = new Probes();
  const relay = new OutboxRelay(store, eventsRedis, probes, settings.outboxSweepMs);
  const handlers = new EventHandlers(store, relay.notify);
  const workers = new Supervisor({
    "delivery-outbox-relay": (signal) => relay.run(signal),
    "delivery-consumer": (signal) => consumer(consumerRedis, handlers, tracer).run(signal),
  });
  const verifier = new TokenVerifier(settings.jwksUrl);
  const orders = new OrdersClient(settings.ordersUrl, tracer);

  const apollo = new ApolloServer<Context>({
    schema: buildSchema(),
    // GraphiQL needs it; the router composes from the SDL, and NODE_ENV=production would turn it off.
    introspection: true,
    formatError: maskErrors,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: settings.maxTokens },
    validationRules: [depthLimit(settings.maxDepth), aliasLimit(settings.maxAliases)],
    plugins: [ApolloServerPluginInlineTraceDisabled(), requestErrorsWithStatus200],
  });
  await apollo.start();
  workers.start();

  const readiness = {
    redis: () => isReady(storeRedis),
    events: () => isReady(eventsRedis),
    ...workers.readiness,
  };
  probes.register("readiness", async () => readinessReadings(await runChecks(readiness)));
  const server = createHttpServer({
    apollo,
    explorerAssets,
    probes,
    context: async (request) =>
      makeContext(request.headers, await authenticate(request.headers, verifier), store, orders, relay.notify),
    readiness,
    tracer,
  });

  return {
    server,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await workers.stop();
      await apollo.stop();
      await store.close();
      await Promise.all([storeRedis, eventsRedis, consumerRedis].map((client) => client.quit().catch(() => undefined)));
      await tracing?.shutdown().catch(() => undefined);
    },
  };
}

/**
 * Apollo Server answers an operation it cannot parse or validate with HTTP 400. For
 * `application/json` responses GraphQL over HTTP asks for 200 with the errors in the body,
 * which is what every shopgraph subgraph answers (the errors say what was wrong).
 */
const requestErrorsWithStatus200: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.http.status === 400) response.http.status = 200;
      },
    };
  },
};

/** A client for `url`; with a `tracer`, its commands and transactions (and its duplicates') are traced. */
function connect(url: string, tracer: Tracer | null): Redis {
  const redis = new Redis(url, { connectTimeout: 3000, maxRetriesPerRequest: 2 });
  return tracer === null ? redis : traceRedis(redis, tracer);
}

async function isReady(redis: Redis): Promise<boolean> {
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref());
  const ping = redis.ping().then((reply) => reply === "PONG", () => false);
  return Promise.race([ping, timeout]);
}
