// Who is calling: bearer tokens verified against the users service's key set (JWKS).
//
// The users service signs EdDSA (Ed25519) JWTs: `sub` the user id, `role` CUSTOMER or
// ADMIN, `iss` shopgraph-users, `aud` shopgraph. The key set is fetched when a token names
// a key id not seen yet (at most every 5 s) or when it is older than 5 minutes; a verified
// token is remembered until it expires, and a new key set forgets them all.

import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type JWK } from "jose";

import { forbidden, serviceUnavailable, ShopError, unauthenticated } from "./errors.js";

export type Role = "CUSTOMER" | "ADMIN";

export interface Principal {
  readonly userId: string;
  readonly role: Role;
}

const ISSUER = "shopgraph-users";
const AUDIENCE = "shopgraph";
const MAX_AGE_MS = 300_000;
const MIN_REFETCH_MS = 5_000;
const FETCH_TIMEOUT_MS = 2_000;
const MAX_REMEMBERED = 4096;

export function requirePrincipal(principal: Principal | null): Principal {
  if (principal === null) throw unauthenticated("Sign in first: send 'Authorization: Bearer <token>'.");
  return principal;
}

export function requireAdmin(principal: Principal | null): Principal {
  const signedIn = requirePrincipal(principal);
  if (signedIn.role !== "ADMIN") throw forbidden("Only an ADMIN may do this.");
  return signedIn;
}

/** The caller must own `what` or be an ADMIN. */
export function requireOwner(principal: Principal | null, ownerId: string, what: string): Principal {
  const signedIn = requirePrincipal(principal);
  if (signedIn.role !== "ADMIN" && signedIn.userId !== ownerId) {
    throw forbidden(`This ${what} belongs to another customer.`);
  }
  return signedIn;
}

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

export class TokenVerifier {
  private keys = new Map<string, VerificationKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | null = null;
  private readonly verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(private readonly jwksUrl: string) {}

  async principalFromHeader(authorization: string | undefined): Promise<Principal | null> {
    if (authorization === undefined || authorization === "") return null;
    const space = authorization.indexOf(" ");
    const scheme = space < 0 ? authorization : authorization.slice(0, space);
    const token = space < 0 ? "" : authorization.slice(space + 1).trim();
    if (scheme.toLowerCase() !== "bearer" || token === "") {
      throw unauthenticated("The Authorization header must be 'Bearer <token>'.");
    }
    return this.verify(token);
  }

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known.expiresAtMs) return known.principal;
      this.verified.delete(token);
    }
    let keyId: unknown;
    try {
      keyId = decodeProtectedHeader(token).kid;
    } catch {
      throw unauthenticated("The token is malformed.");
    }
    if (typeof keyId !== "string") throw unauthenticated("The token names no key id.");
    const key = await this.key(keyId);
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, key, {
        algorithms: ["EdDSA"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["exp", "iat", "sub"],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated("The token has expired: sign in again.");
      throw unauthenticated("The token is invalid.");
    }
    const principal = principalFromClaims(claims);
    this.remember(token, principal, Number(claims["exp"]) * 1000);
    return principal;
  }

  private async key(keyId: string): Promise<VerificationKey> {
    const age = Date.now() - this.fetchedAt;
    if ((!this.keys.has(keyId) && age > MIN_REFETCH_MS) || age > MAX_AGE_MS) await this.refresh();
    const key = this.keys.get(keyId);
    if (key === undefined) throw unauthenticated("The token was signed by an unknown key.");
    return key;
  }

  private async refresh(): Promise<void> {
    // Concurrent requests share one fetch.
    this.refreshing ??= this.fetchKeys().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async fetchKeys(): Promise<void> {
    let keys: Map<string, VerificationKey>;
    try {
      const response = await fetch(this.jwksUrl, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { keys?: JWK[] };
      keys = new Map();
      for (const jwk of body.keys ?? []) {
        if (typeof jwk.kid === "string") keys.set(jwk.kid, await importJWK(jwk, "EdDSA"));
      }
    } catch (error) {
      if (error instanceof ShopError) throw error;
      if (this.keys.size > 0) return; // keep serving with the keys we have
      throw serviceUnavailable("Cannot verify tokens: the key set is unreachable.");
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
    this.verified.clear();
  }

  private remember(token: string, principal: Principal, expiresAtMs: number): void {
    if (!this.verified.has(token) && this.verified.size >= MAX_REMEMBERED) {
      const oldest = this.verified.keys().next();
      if (oldest.done !== true) this.verified.delete(oldest.value);
    }
    this.verified.set(token, { principal, expiresAtMs });
  }
}

function principalFromClaims(claims: Record<string, unknown>): Principal {
  const { sub, role } = claims;
  if (sub === undefined || (role !== "CUSTOMER" && role !== "ADMIN")) {
    throw unauthenticated("The token does not name a user and role.");
  }
  return { userId: String(sub), role };
}
