// Settings from environment variables, with the defaults of a local stack
// (docs/architecture.md, "Configuration"; the same variables as the Python delivery).

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly redisUrl: string;
  readonly eventsRedisUrl: string;
  readonly jwksUrl: string;
  /** The orders subgraph itself (not the router: shipOrder is not in the API schema), asked to confirm a shipment. */
  readonly ordersUrl: string;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  /** How often the outbox relay sweeps for events a crashed process left (OUTBOX_SWEEP_SECONDS). */
  readonly outboxSweepMs: number;
  /** The OTLP/HTTP base URL spans are exported to (e.g. http://127.0.0.1:4318); null: no tracing. */
  readonly tracingEndpoint: string | null;
}

export const DEFAULT_PORT = 4004;

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    host: env["HOST"] ?? "127.0.0.1",
    port: integer(env, "PORT", DEFAULT_PORT),
    redisUrl: env["REDIS_URL"] ?? "redis://127.0.0.1:6379/1",
    eventsRedisUrl: env["EVENTS_REDIS_URL"] ?? "redis://127.0.0.1:6379/0",
    jwksUrl: env["JWKS_URL"] ?? "http://127.0.0.1:4001/.well-known/jwks.json",
    ordersUrl: env["ORDERS_URL"] ?? "http://127.0.0.1:4002/graphql",
    maxDepth: integer(env, "GRAPHQL_MAX_DEPTH", 12),
    maxAliases: integer(env, "GRAPHQL_MAX_ALIASES", 30),
    maxTokens: integer(env, "GRAPHQL_MAX_TOKENS", 4000),
    outboxSweepMs: seconds(env, "OUTBOX_SWEEP_SECONDS", 30) * 1000,
    tracingEndpoint: env["TRACING_ENDPOINT"] || null,
  };
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number of seconds, not ${JSON.stringify(raw)}`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, not ${JSON.stringify(raw)}`);
  return value;
}
