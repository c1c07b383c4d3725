// Logging to stderr as JSON lines, at LOG_LEVEL and above, in shopkit.logs's format: one object
// per line with `time`, `level`, `logger`, `message`, then `trace_id` and `span_id` when the
// record was logged inside a traced request or event (tracing.ts), and `exception` with its stack.
// `make logs` (scripts/logview.py) shows them as plain lines.

import { currentIds } from "./tracing.js";

const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 } as const;
type Level = keyof typeof LEVELS;

const threshold = LEVELS[(process.env["LOG_LEVEL"] ?? "INFO").toUpperCase() as Level] ?? LEVELS.INFO;

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string, error?: unknown): void;
}

/** One log line's JSON: what `logger(name)` writes for a record at `level`. */
export function logLine(name: string, level: Level, message: string, error?: unknown, at: Date = new Date()): string {
  const line: Record<string, string> = {
    // Python's isoformat(timespec="milliseconds") in UTC, as the Python services write it.
    time: at.toISOString().replace(/Z$/, "+00:00"),
    level,
    logger: name,
    message,
  };
  const ids = currentIds();
  if (ids !== null) {
    line["trace_id"] = ids.traceId;
    line["span_id"] = ids.spanId;
  }
  if (error !== undefined) line["exception"] = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  return JSON.stringify(line);
}

export function logger(name: string): Logger {
  const write = (level: Level, message: string, error?: unknown): void => {
    if (LEVELS[level] >= threshold) process.stderr.write(`${logLine(name, level, message, error)}\n`);
  };
  return {
    info: (message) => write("INFO", message),
    warning: (message) => write("WARNING", message),
    error: (message, error) => write("ERROR", message, error),
  };
}
