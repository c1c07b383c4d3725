// What lives in Redis rather than in this process, read when /metrics is scraped (as
// shopkit.metrics.PROBES does for the Python services), so a value is never older than the
// scrape: the outbox's backlog, what the consumer groups of delivery's stream have left
// undone (reported by the stream's producer: it runs while a consumer is down), and the
// readiness checks. Same names, labels and help texts as every shopgraph service.

import type { Redis } from "ioredis";

import { logger } from "./log.js";

const log = logger("probes");

export const OUTBOX_GROUP = "outbox";
const PROBE_TIMEOUT_MS = 1000;

const HELP: Readonly<Record<string, string>> = {
  shopgraph_consumer_lag:
    "Entries of the stream not yet delivered to the consumer group (Redis XINFO GROUPS lag), reported by the stream's producer.",
  shopgraph_consumer_pending:
    "Entries delivered to the consumer group but not acknowledged yet (XINFO GROUPS pending), reported by the stream's producer.",
  shopgraph_dead_letters: "Entries in the dead-letter stream <stream>.dead.<group> (group outbox: entries the relay could not read).",
  shopgraph_outbox_backlog:
    "Outbox places whose events wait to be published (documents on MongoDB, events on delivery's list), counted up to OUTBOX_BACKLOG_CAP.",
  shopgraph_ready: "1 while every readiness check passes (/health/ready answers 200), else 0.",
  shopgraph_readiness_check: "Each readiness check of /health/ready: 1 passing, 0 failing.",
};

export interface Reading {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type Probe = () => Promise<Reading[]>;

export class Probes {
  private readonly probes = new Map<string, Probe>();

  /** Adds the probe under `key` (replacing one there); returns what removes it. */
  register(key: string, probe: Probe): () => void {
    this.probes.set(key, probe);
    return () => {
      if (this.probes.get(key) === probe) this.probes.delete(key);
    };
  }

  /** Every probe's readings, in Prometheus' text format; one that fails or hangs gives none. */
  async exposition(): Promise<string> {
    const results = await Promise.all(
      [...this.probes].map(async ([key, probe]) => {
        try {
          return await withTimeout(probe(), PROBE_TIMEOUT_MS);
        } catch (error) {
          log.warning(`metrics probe ${key} failed: ${String(error)}`);
          return [];
        }
      }),
    );
    const byName = new Map<string, Reading[]>();
    for (const reading of results.flat()) byName.set(reading.name, [...(byName.get(reading.name) ?? []), reading]);
    let text = "";
    for (const [name, readings] of byName) {
      text += `# HELP ${name} ${HELP[name] ?? name}\n# TYPE ${name} gauge\n`;
      for (const { labels, value } of readings) text += `${name}${formatLabels(labels)} ${value}\n`;
    }
    return text;
  }
}

export function readinessReadings(results: Readonly<Record<string, boolean>>): Reading[] {
  return [
    { name: "shopgraph_ready", labels: {}, value: Object.values(results).every(Boolean) ? 1 : 0 },
    ...Object.entries(results).map(([check, ok]) => ({ name: "shopgraph_readiness_check", labels: { check }, value: ok ? 1 : 0 })),
  ];
}

/** Per consumer group of the stream: lag, pending, and its dead letters (and the relay's own). */
export async function streamReadings(redis: Redis, stream: string): Promise<Reading[]> {
  let groups: unknown[][] = [];
  try {
    groups = (await redis.xinfo("GROUPS", stream)) as unknown[][];
  } catch (error) {
    if (!String(error).toLowerCase().includes("no such key")) throw error;
  }
  const readings: Reading[] = [];
  const names: string[] = [];
  for (const fields of groups) {
    const group = pairs(fields);
    const labels = { stream, group: String(group["name"]) };
    names.push(labels.group);
    if (group["lag"] !== null && group["lag"] !== undefined) readings.push({ name: "shopgraph_consumer_lag", labels, value: Number(group["lag"]) });
    readings.push({ name: "shopgraph_consumer_pending", labels, value: Number(group["pending"]) });
  }
  names.push(OUTBOX_GROUP);
  const lengths = redis.pipeline();
  for (const name of names) lengths.xlen(`${stream}.dead.${name}`);
  const replies = (await lengths.exec()) ?? [];
  names.forEach((group, index) => {
    readings.push({ name: "shopgraph_dead_letters", labels: { stream, group }, value: Number(replies[index]?.[1] ?? 0) });
  });
  return readings;
}

function pairs(fields: unknown[]): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  for (let index = 0; index + 1 < fields.length; index += 2) found[String(fields[index])] = fields[index + 1];
  return found;
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  if (entries.length === 0) return "";
  const escape = (value: string): string => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
  return `{${entries.map(([key, value]) => `${key}="${escape(value)}"`).join(",")}}`;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
