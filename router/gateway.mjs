// Apollo Gateway (Node) serving router/supergraph.graphql: the second, fast-starting
// router implementation. It reads the same environment as router/router.yaml:
//
//   ROUTER_LISTEN         127.0.0.1:4000   GraphQL at path /
//   ROUTER_HEALTH_LISTEN  127.0.0.1:8088   GET /health -> {"status":"UP"}
//   ROUTER_PROFILE        dev | prod       dev: introspection, landing page, subgraph errors as they are
//   USERS_URL, ORDERS_URL, PAYMENTS_URL, DELIVERY_URL   subgraph URL overrides
//   SUPERGRAPH_PATH       router/supergraph.graphql
//
// Like the router it forwards Authorization and W3C trace context to every subgraph,
// answers CORS only for localhost origins, caps request bodies at 1 MB, and names
// the subgraph in the `service` extension of errors that come from one.

import { readFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { GraphQLError } from "graphql";

const here = dirname(fileURLToPath(import.meta.url));

const FORWARDED_HEADERS = ["authorization", "traceparent", "tracestate"];
const SUBGRAPH_TIMEOUT_MS = { users: 5_000, orders: 10_000, payments: 15_000, delivery: 5_000 };
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_REQUEST_BYTES = 1_000_000;
const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?$/;
const CLIENT_EXTENSIONS = new Set(["code", "field", "retryable", "retryAfterSeconds"]);

const development = (process.env.ROUTER_PROFILE ?? "dev") === "dev";

function parseListen(value) {
  const at = value.lastIndexOf(":");
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(value.slice(at + 1)) };
}

/** Sends each subgraph fetch with the client's auth and trace headers, and a timeout. */
class ForwardingDataSource extends RemoteGraphQLDataSource {
  constructor(name, url) {
    const timeout = SUBGRAPH_TIMEOUT_MS[name] ?? DEFAULT_TIMEOUT_MS;
    super({
      url,
      fetcher: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeout) }),
    });
    this.name = name;
  }

  willSendRequest({ request, context }) {
    for (const name of FORWARDED_HEADERS) {
      const value = context.headers?.get(name);
      if (value) request.http.headers.set(name, value);
    }
  }

  async process(options) {
    try {
      return await super.process(options);
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      const reason = error.cause?.code ?? error.cause?.message ?? error.message;
      throw new GraphQLError(`HTTP fetch failed from '${this.name}': ${reason}`, {
        extensions: { code: "SUBREQUEST_HTTP_ERROR", service: this.name },
      });
    }
  }
}

function subgraphUrl(name, url) {
  return process.env[`${name.toUpperCase()}_URL`] || url;
}

/** Names the subgraph in `service` (as the router does); in production, keeps the message and only
 * the extensions a client acts on (ditto: router.yaml include_subgraph_errors). */
function formatError(formatted) {
  const { serviceName, ...extensions } = formatted.extensions ?? {};
  const service = extensions.service ?? serviceName;
  if (service === undefined) return formatted;
  if (development) return { ...formatted, extensions: { ...extensions, service } };
  const kept = Object.fromEntries(Object.entries(extensions).filter(([key]) => CLIENT_EXTENSIONS.has(key)));
  return { ...formatted, extensions: kept };
}

function corsHeaders(request) {
  const origin = request.headers.origin;
  if (!origin || !LOCAL_ORIGIN.test(origin)) return {};
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": request.headers["access-control-request-headers"] ?? "content-type",
    vary: "Origin",
  };
}

async function readBody(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw Object.assign(new Error("Request body too large"), { status: 413 });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error("Request body is not valid JSON"), { status: 400 });
  }
}

function graphqlHandler(server) {
  return async (request, response) => {
    const cors = corsHeaders(request);
    if (request.method === "OPTIONS") {
      response.writeHead(204, cors).end();
      return;
    }
    const url = new URL(request.url, "http://gateway");
    if (url.pathname !== "/") {
      response.writeHead(404, cors).end();
      return;
    }
    let body;
    try {
      body = await readBody(request);
    } catch (error) {
      response.writeHead(error.status ?? 400, { ...cors, "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [{ message: error.message }] }));
      return;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const result = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method, headers, search: url.search, body },
      context: async () => ({ headers }),
    });
    response.statusCode = result.status ?? 200;
    for (const [key, value] of [...Object.entries(cors), ...result.headers]) response.setHeader(key, value);
    if (result.body.kind === "complete") {
      response.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) response.write(chunk);
    response.end();
  };
}

function healthHandler(request, response) {
  const healthy = new URL(request.url, "http://gateway").pathname === "/health";
  response.writeHead(healthy ? 200 : 404, { "content-type": "application/json" });
  response.end(healthy ? JSON.stringify({ status: "UP" }) : "");
}

function listen(httpServer, address) {
  const { host, port } = parseListen(address);
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, resolve);
  });
}

async function main() {
  const supergraphSdl = readFileSync(
    process.env.SUPERGRAPH_PATH ?? join(here, "supergraph.graphql"),
    "utf8",
  );
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => new ForwardingDataSource(name, subgraphUrl(name, url)),
  });
  const server = new ApolloServer({
    gateway,
    introspection: development,
    includeStacktraceInErrorResponses: false,
    formatError,
    plugins: [
      development
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await server.start();

  const listenAddress = process.env.ROUTER_LISTEN ?? "127.0.0.1:4000";
  const healthAddress = process.env.ROUTER_HEALTH_LISTEN ?? "127.0.0.1:8088";
  const graphqlServer = http.createServer(graphqlHandler(server));
  const healthServer = http.createServer(healthHandler);
  await listen(graphqlServer, listenAddress);
  await listen(healthServer, healthAddress);
  console.log(`gateway (${development ? "dev" : "prod"}) serving http://${listenAddress}/`);

  const stop = async () => {
    healthServer.close();
    graphqlServer.close();
    await server.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

await main();
