// Logging to stderr in the stack's format: `<time> <LEVEL> <logger>: <message>`, at LOG_LEVEL and above.

const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 } as const;
type Level = keyof typeof LEVELS;

const threshold = LEVELS[(process.env["LOG_LEVEL"] ?? "INFO").toUpperCase() as Level] ?? LEVELS.INFO;

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string, error?: unknown): void;
}

export function logger(name: string): Logger {
  const write = (level: Level, message: string): void => {
    if (LEVELS[level] >= threshold) process.stderr.write(`${new Date().toISOString()} ${level} ${name}: ${message}\n`);
  };
  return {
    info: (message) => write("INFO", message),
    warning: (message) => write("WARNING", message),
    error: (message, error) =>
      write("ERROR", error === undefined ? message : `${message}\n${error instanceof Error ? error.stack : String(error)}`),
  };
}
