// Errors a client may see, each with the `extensions.code` it can branch on, and the
// masking of everything else as "Internal server error." (docs/architecture.md, "Errors").

import { unwrapResolverError } from "@apollo/server/errors";
import type { GraphQLFormattedError } from "graphql";

export type ErrorCode =
  | "BAD_USER_INPUT"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "SERVICE_UNAVAILABLE";

export class ShopError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = "ShopError";
  }

  get extensions(): Record<string, unknown> {
    return { code: this.code, ...this.details };
  }
}

export const badUserInput = (message: string, field: string): ShopError =>
  new ShopError("BAD_USER_INPUT", message, { field });
export const unauthenticated = (message: string): ShopError => new ShopError("UNAUTHENTICATED", message);
export const forbidden = (message: string): ShopError => new ShopError("FORBIDDEN", message);
export const notFound = (message: string): ShopError => new ShopError("NOT_FOUND", message);
export const conflict = (message: string, details: Record<string, unknown>): ShopError =>
  new ShopError("CONFLICT", message, details);
export const serviceUnavailable = (message: string): ShopError => new ShopError("SERVICE_UNAVAILABLE", message);
/** A dependency gave no usable answer; the same request may succeed in `retryAfterSeconds`. */
export const retryLater = (message: string, retryAfterSeconds: number): ShopError =>
  new ShopError("SERVICE_UNAVAILABLE", message, { retryable: true, retryAfterSeconds });

export const INTERNAL_MESSAGE = "Internal server error.";
const STORE_UNREACHABLE_MESSAGE = "A store this operation needs cannot be reached right now; retry shortly.";
const STORE_RETRY_AFTER_SECONDS = 1;
const CONNECTION_ERROR_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]);

/**
 * Redis could not be reached (restarting, failing over, out of connections): ioredis gives
 * up on a command after its retries, or reports the closed or refused connection. Retrying
 * the same request can succeed, so the client is told so.
 */
function isStoreUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed." ||
    (code !== undefined && CONNECTION_ERROR_CODES.has(code))
  );
}

/**
 * Apollo Server's `formatError`. Errors outside execution (parse, validation, variables)
 * are about what the client sent and pass as they are. In execution, a ShopError keeps
 * its message and its extensions only; an unreachable store is a retryable SERVICE_UNAVAILABLE;
 * anything else is a bug and is masked.
 */
export function maskErrors(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  if (formatted.path === undefined) return formatted;
  const original = unwrapResolverError(error);
  if (original instanceof ShopError) {
    return { ...formatted, message: original.message, extensions: original.extensions };
  }
  const unreachable = isStoreUnreachable(original);
  return {
    message: unreachable ? STORE_UNREACHABLE_MESSAGE : INTERNAL_MESSAGE,
    ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
    path: formatted.path,
    extensions: unreachable
      ? { code: "SERVICE_UNAVAILABLE", retryable: true, retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }
      : { code: "INTERNAL_SERVER_ERROR" },
  };
}
