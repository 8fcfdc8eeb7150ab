import { decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { ANONYMOUS_CALLER, type CallerIdentity } from "../context.ts";
import { gatewayError } from "../errors.ts";
import { createTokenIntrospector, type IntrospectionOptions, IntrospectionUnavailableError } from "./introspection.ts";
import { createCachedJwks } from "./jwks.ts";

export interface AuthenticatorOptions {
  /** Where the issuer publishes its signing keys; null accepts no asymmetric tokens. */
  jwksUrl: string | null;
  /** Shared secret for HS256 tokens. @default null (HS256 refused) */
  jwtSecret?: string | null;
  /** Required `iss`. @default null (not checked) */
  issuer?: string | null;
  /** Required `aud`. @default null (not checked) */
  audience?: string | null;
  /** @default 5 */
  clockToleranceSeconds?: number;
  /** @default 8192 */
  maxTokenBytes?: number;
  /** How long fetched keys are used before a refresh. @default 600 */
  jwksCacheSeconds?: number;
  /** A token with an unknown `kid` refetches the JWKS at most this often. @default 10 */
  jwksRefreshCooldownSeconds?: number;
  /** How long cached keys keep verifying while the JWKS host is down. @default 86400 */
  jwksStaleMaxAgeSeconds?: number;
  /**
   * Verified JWTs remembered (by their exact bytes) so a client sending the same token again costs no
   * signature check; each is kept until its `exp`, and never longer than this. 0 turns it off. @default 60
   */
  verifiedCacheSeconds?: number;
  /** Most verified JWTs remembered. @default 10000 */
  verifiedCacheMaxEntries?: number;
  /** RFC 7662 introspection for tokens that are not JWTs. @default null (such tokens are refused as malformed) */
  introspection?: Omit<IntrospectionOptions, "logger" | "issuer" | "audience"> | null;
  logger?: Pick<Logger, "warn" | "info" | "error">;
}

export interface Authenticator {
  /** Resolves the caller from an `Authorization` header value; throws UNAUTHENTICATED (401). */
  authenticate(authorization: string | undefined): Promise<CallerIdentity>;
}

/** Asymmetric algorithms accepted from a JWKS; symmetric ones never are (no algorithm confusion). */
const ASYMMETRIC_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA", "Ed25519"];
/** Header parameters that would let a token pick its own key; refused outright. */
const KEY_CHOOSING_HEADERS = ["jwk", "jku", "x5u", "x5c"] as const;
/** Three base64url segments (the last may be empty, as with `alg: none`): a JWT, never an opaque token. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function refuse(description: string, tokenSent = true): never {
  const params = tokenSent ? `, error="invalid_token", error_description="${description}"` : "";
  throw gatewayError("UNAUTHENTICATED", tokenSent ? `Invalid token: ${description}` : description, {
    headers: { "www-authenticate": `Bearer realm="api"${params}` },
  });
}

/** An opaque token is what its issuer says it is; when the issuer cannot be asked, nobody gets in. */
async function introspect(
  introspector: ReturnType<typeof createTokenIntrospector>,
  token: string,
): Promise<CallerIdentity> {
  let result: Awaited<ReturnType<typeof introspector.introspect>>;
  try {
    result = await introspector.introspect(token);
  } catch (error) {
    if (!(error instanceof IntrospectionUnavailableError)) throw error;
    // Not a 401: the token may well be valid, and a client told it is not would throw it away.
    throw gatewayError("SUBGRAPH_UNAVAILABLE", "Token introspection is unavailable; try again shortly", {
      headers: { "retry-after": "5" },
      extensions: { retryAfter: 5 },
    });
  }
  if (!result.active) refuse("token is not active");
  return Object.freeze({ userId: result.userId, scopes: result.scopes, clientId: result.clientId });
}

function scopesOf(payload: JWTPayload): Set<string> {
  const { scope, scp } = payload as { scope?: unknown; scp?: unknown };
  if (typeof scope === "string") return new Set(scope.split(" ").filter(Boolean));
  if (Array.isArray(scp)) return new Set(scp.filter((s): s is string => typeof s === "string"));
  return new Set();
}

/** Verifies bearer JWTs with jose: allow-listed algorithms, `exp` required, `iss`/`aud` when configured. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  const jwks: JWTVerifyGetKey | null = options.jwksUrl
    ? createCachedJwks({
        url: options.jwksUrl,
        maxAgeMs: (options.jwksCacheSeconds ?? 600) * 1000,
        refreshCooldownMs: (options.jwksRefreshCooldownSeconds ?? 10) * 1000,
        staleMaxAgeMs: (options.jwksStaleMaxAgeSeconds ?? 86_400) * 1000,
        ...(options.logger && { logger: options.logger }),
      })
    : null;
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : null;
  const introspector = options.introspection
    ? createTokenIntrospector({
        ...options.introspection,
        issuer: options.issuer ?? null,
        audience: options.audience ?? null,
        ...(options.logger && { logger: options.logger }),
      })
    : null;
  const verifyOptions: JWTVerifyOptions = {
    requiredClaims: ["exp"],
    clockTolerance: options.clockToleranceSeconds ?? 5,
    ...(options.issuer && { issuer: options.issuer }),
    ...(options.audience && { audience: options.audience }),
  };

  // Same bytes, same signature check: a token verified once needs only its expiry checked again.
  // Entries live no longer than the JWKS cache would keep a removed key anyway.
  const verifiedForMs = (options.verifiedCacheSeconds ?? 60) * 1000;
  const verified =
    verifiedForMs > 0
      ? new LRUCache<string, { identity: CallerIdentity; expiresAt: number }>({
          max: options.verifiedCacheMaxEntries ?? 10_000,
        })
      : null;

  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization === "") return ANONYMOUS_CALLER;
      const match = /^Bearer +([A-Za-z0-9\-_.~+/]+=*)$/i.exec(authorization.trim());
      if (!match) refuse("Authorization must be a Bearer token", false);
      const token = match[1]!;
      if (token.length > maxTokenBytes) refuse("token too large");
      if (!JWT_SHAPE.test(token)) {
        if (!introspector) refuse("malformed token");
        return introspect(introspector, token);
      }
      const known = verified?.get(token);
      if (known) {
        if (known.expiresAt > Date.now()) return known.identity;
        verified!.delete(token);
      }

      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        refuse("malformed token");
      }
      if (KEY_CHOOSING_HEADERS.some((name) => name in header)) refuse("token header names its own key");

      let payload: JWTPayload;
      try {
        if (header.alg === "HS256" && secret) {
          ({ payload } = await jwtVerify(token, secret, { ...verifyOptions, algorithms: ["HS256"] }));
        } else if (jwks) {
          ({ payload } = await jwtVerify(token, jwks, { ...verifyOptions, algorithms: ASYMMETRIC_ALGORITHMS }));
        } else {
          refuse("no key to verify this token");
        }
      } catch (error) {
        if (error instanceof Error && "extensions" in error) throw error;
        const code = (error as { code?: string }).code;
        refuse(code === "ERR_JWT_EXPIRED" ? "token expired" : "signature or claims rejected");
      }
      if (payload.sub !== undefined && (typeof payload.sub !== "string" || payload.sub === "")) {
        refuse("bad subject");
      }
      const clientId = typeof payload.client_id === "string" ? payload.client_id : null;
      const identity: CallerIdentity = Object.freeze({
        userId: payload.sub ?? null,
        scopes: scopesOf(payload),
        clientId,
      });
      // `exp` is required above; the entry ends with the token, or sooner.
      if (verified)
        verified.set(token, { identity, expiresAt: Math.min(payload.exp! * 1000, Date.now() + verifiedForMs) });
      return identity;
    },
  };
}
