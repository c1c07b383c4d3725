// The HTTP server around the subgraph, on Node's own http module: POST /graphql (Apollo
// Server), GraphiQL on a browser's GET /graphql, /health/live, /health/ready and /metrics.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { Tracer } from "@opentelemetry/api";

import type { Context } from "./context.js";
import { ASSETS_PATH, graphiqlPage, type Asset } from "./explorer.js";
import { registry } from "./metrics.js";
import type { Probes } from "./probes.js";
import { serving } from "./tracing.js";

const MAX_BODY_BYTES = 1_000_000;
/** The platform's polling (probes, scrapes), not anyone's request: no spans. */
const UNTRACED_PATHS: ReadonlySet<string> = new Set(["/health/live", "/health/ready", "/metrics"]);

export type ReadinessCheck = () => Promise<boolean>;

export interface HttpOptions {
  readonly apollo: ApolloServer<Context>;
  readonly context: (request: IncomingMessage) => Promise<Context>;
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
  readonly explorerAssets: ReadonlyMap<string, Asset>;
  /** Read at each scrape of /metrics, after the process's own metrics. */
  readonly probes: Probes;
  /** With one, every request but probes and scrapes is a SERVER span (tracing.ts). */
  readonly tracer: Tracer | null;
}

export function createHttpServer(options: HttpOptions): Server {
  const handle = (request: IncomingMessage, response: ServerResponse): Promise<void> =>
    route(options, request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, "text/plain", `Internal server error.\n`);
      else response.destroy(error instanceof Error ? error : undefined);
    });
  const { tracer } = options;
  return createServer((request, response) => {
    const path = tracer === null ? null : pathOf(request);
    if (tracer === null || path === null || UNTRACED_PATHS.has(path)) {
      void handle(request, response);
      return;
    }
    const traced = {
      method: request.method ?? "GET",
      path,
      traceparent: single(request.headers.traceparent),
      tracestate: single(request.headers.tracestate),
      status: () => response.statusCode,
    };
    void serving(tracer, traced, () => handle(request, response)).catch(() => undefined);
  });
}

async function route(options: HttpOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://delivery");
  if (url.pathname === "/graphql") {
    if (request.method === "GET" && (request.headers.accept ?? "").includes("text/html")) {
      const title = `shopgraph subgraph at ${request.headers.host ?? "delivery"}`;
      return send(response, 200, "text/html; charset=utf-8", graphiqlPage(title, "/graphql"));
    }
    if (request.method !== "POST") {
      response.setHeader("allow", "POST");
      return send(response, 405, "text/plain", "Send GraphQL operations with POST.\n");
    }
    return graphql(options, request, response, url.search);
  }
  if (url.pathname.startsWith(ASSETS_PATH) && (request.method === "GET" || request.method === "HEAD")) {
    const asset = options.explorerAssets.get(url.pathname.slice(ASSETS_PATH.length));
    if (asset === undefined) return send(response, 404, "text/plain", "Not found.\n");
    response.writeHead(200, { "content-type": asset.mediaType, "content-length": asset.body.length, "cache-control": "no-cache" });
    response.end(request.method === "HEAD" ? undefined : asset.body);
    return;
  }
  if (url.pathname === "/health/live") return sendJson(response, 200, { status: "live" });
  if (url.pathname === "/health/ready") return ready(options.readiness, response);
  if (url.pathname === "/metrics") {
    return send(response, 200, registry.contentType, (await registry.metrics()) + (await options.probes.exposition()));
  }
  return send(response, 404, "text/plain", "Not found.\n");
}

async function graphql(options: HttpOptions, request: IncomingMessage, response: ServerResponse, search: string): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch {
    return send(response, 400, "text/plain", "Unable to parse request body as JSON");
  }
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const result = await options.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: "POST", headers, search, body },
    context: () => options.context(request),
  });
  for (const [name, value] of result.headers) response.setHeader(name, value);
  response.statusCode = result.status ?? 200;
  if (result.body.kind === "complete") {
    response.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) response.write(chunk);
  response.end();
}

export async function runChecks(checks: Readonly<Record<string, ReadinessCheck>>): Promise<Record<string, boolean>> {
  const results: Record<string, boolean> = {};
  for (const [name, check] of Object.entries(checks)) results[name] = await check().catch(() => false);
  return results;
}

async function ready(checks: Readonly<Record<string, ReadinessCheck>>, response: ServerResponse): Promise<void> {
  const results = await runChecks(checks);
  const healthy = Object.values(results).every(Boolean);
  sendJson(response, healthy ? 200 : 503, { status: healthy ? "ready" : "unavailable", checks: results });
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("request body too large"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/** The request's path; null when its target is no URL (route() answers it, untraced). */
function pathOf(request: IncomingMessage): string | null {
  try {
    return new URL(request.url ?? "/", "http://delivery").pathname;
  } catch {
    return null;
  }
}

function single(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, "application/json", JSON.stringify(body));
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  response.end(body);
}
