import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";

/** What the gateway needs to introspect opaque tokens (RFC 7662). */
export interface IntrospectionOptions {
  /** The authorization server's introspection endpoint. */
  url: string;
  /** The gateway's own client at that server (client_secret_basic). */
  clientId: string;
  clientSecret: string;
  /** Answers kept at most (active ones; inactive ones have a budget of their own). @default 10000 */
  cacheMaxEntries?: number;
  /** An active answer is kept this long at most, and never past the token's `exp`. @default 60 */
  cacheMaxSeconds?: number;
  /** An inactive answer is kept this long, so a repeated bad token is not asked about each time. @default 10 */
  inactiveCacheSeconds?: number;
  /** Per introspection request. @default 2000 */
  timeoutMs?: number;
  /** Introspection requests in flight at most; beyond that, callers are told it is unavailable. @default 64 */
  maxConcurrent?: number;
  /** Required `iss` when the answer carries one. @default null */
  issuer?: string | null;
  /** Required among `aud` when the answer carries one. @default null */
  audience?: string | null;
  logger?: Pick<Logger, "warn" | "error">;
  /** Milliseconds; tests move time. @default Date.now */
  now?: () => number;
  /** @default the global fetch */
  fetch?: typeof fetch;
}

/** An introspected token, as far as the gateway cares. */
export type IntrospectionResult =
  | { readonly active: false }
  | {
      readonly active: true;
      /** The token's user (`sub`), when it has one distinct from its client. */
      readonly userId: string | null;
      readonly clientId: string | null;
      readonly scopes: ReadonlySet<string>;
      /** Unix seconds, when the server said. */
      readonly exp: number | null;
    };

/** The introspection endpoint could not give an answer (down, slow, misconfigured, overloaded). */
export class IntrospectionUnavailableError extends Error {
  override name = "IntrospectionUnavailableError";
}

export interface TokenIntrospector {
  /** The server's verdict on the token, from the cache when it is fresh there. */
  introspect(token: string): Promise<IntrospectionResult>;
  /** Entries held now (active, inactive). */
  readonly cacheSize: { active: number; inactive: number };
}

/**
 * A map with a size bound and per-entry expiry. Least recently used entries go first when full;
 * expired entries go when met. Keys are token hashes, never tokens.
 */
export class ExpiringLruCache<V> {
  private readonly entries: LRUCache<string, { value: V; expiresAt: number }>;
  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
    // Expiry is checked against the caller's clock (tests move time), so lru-cache only bounds the size.
    this.entries = new LRUCache({ max: maxEntries });
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, expiresAt: number, now: number): void {
    if (expiresAt <= now) this.entries.delete(key);
    else this.entries.set(key, { value, expiresAt });
  }
}

const INACTIVE: IntrospectionResult = Object.freeze({ active: false });
/** Token types an access token may carry; a refresh token that introspects active is still not one. */
const ACCESS_TOKEN_TYPES = new Set(["bearer", "access_token"]);

function basicAuthorization(clientId: string, secret: string): string {
  // RFC 6749 §2.3.1: each part form-encoded before Base64.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString("base64")}`;
}

function audiences(aud: unknown): string[] {
  if (typeof aud === "string") return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
}

/**
 * Checks opaque access tokens with an RFC 7662 introspection endpoint. Answers are cached by the
 * token's SHA-256: an active one until the token expires or `cacheMaxSeconds` pass, whichever is
 * first (so a revocation is seen within that time); an inactive one for `inactiveCacheSeconds`.
 * Concurrent requests for one token share one introspection call.
 */
export function createTokenIntrospector(options: IntrospectionOptions): TokenIntrospector {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  const maxMs = (options.cacheMaxSeconds ?? 60) * 1000;
  const inactiveMs = (options.inactiveCacheSeconds ?? 10) * 1000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxConcurrent = options.maxConcurrent ?? 64;
  const authorization = basicAuthorization(options.clientId, options.clientSecret);
  const active = new ExpiringLruCache<IntrospectionResult>(maxEntries);
  // A flood of garbage tokens fills only this one and cannot push good answers out.
  const inactive = new ExpiringLruCache<IntrospectionResult>(maxEntries);
  const inFlight = new Map<string, Promise<IntrospectionResult>>();

  function interpret(body: unknown, at: number): IntrospectionResult {
    if (typeof body !== "object" || body === null || typeof (body as { active?: unknown }).active !== "boolean") {
      throw new IntrospectionUnavailableError("introspection answer without a boolean `active`");
    }
    const answer = body as Record<string, unknown>;
    if (answer.active !== true) return INACTIVE;
    const seconds = at / 1000;
    const exp = typeof answer.exp === "number" ? answer.exp : null;
    if (exp !== null && exp <= seconds) return INACTIVE;
    if (typeof answer.nbf === "number" && answer.nbf > seconds) return INACTIVE;
    if (typeof answer.token_type === "string" && !ACCESS_TOKEN_TYPES.has(answer.token_type.toLowerCase())) {
      return INACTIVE;
    }
    if (options.issuer && answer.iss !== undefined && answer.iss !== options.issuer) return INACTIVE;
    if (options.audience && answer.aud !== undefined && !audiences(answer.aud).includes(options.audience)) {
      return INACTIVE;
    }
    const clientId = typeof answer.client_id === "string" && answer.client_id !== "" ? answer.client_id : null;
    const sub = typeof answer.sub === "string" && answer.sub !== "" ? answer.sub : null;
    const scope = typeof answer.scope === "string" ? answer.scope : "";
    return Object.freeze({
      active: true,
      // Servers that put the client in `sub` for client-credentials tokens are not naming a user.
      userId: sub !== null && sub !== clientId ? sub : null,
      clientId,
      scopes: new Set(scope.split(" ").filter(Boolean)),
      exp,
    });
  }

  async function ask(token: string): Promise<IntrospectionResult> {
    let response: Response;
    try {
      response = await doFetch(options.url, {
        method: "POST",
        headers: {
          authorization,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new IntrospectionUnavailableError(`introspection endpoint unreachable: ${(error as Error).message}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      // 401/403 here means the gateway's own client credentials are wrong: an operator's problem.
      throw new IntrospectionUnavailableError(`introspection endpoint answered HTTP ${response.status}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new IntrospectionUnavailableError("introspection endpoint answered with invalid JSON");
    }
    return interpret(body, now());
  }

  async function lookUp(key: string, token: string): Promise<IntrospectionResult> {
    try {
      const result = await ask(token);
      const at = now();
      if (result.active) {
        const lifetime = result.exp === null ? maxMs : Math.min(maxMs, result.exp * 1000 - at);
        active.set(key, result, at + lifetime, at);
      } else {
        inactive.set(key, result, at + inactiveMs, at);
      }
      return result;
    } catch (error) {
      options.logger?.warn({ err: error, url: options.url }, "token introspection failed");
      throw error instanceof IntrospectionUnavailableError ? error : new IntrospectionUnavailableError(String(error));
    } finally {
      inFlight.delete(key);
    }
  }

  return {
    async introspect(token) {
      const key = createHash("sha256").update(token).digest("base64url");
      const at = now();
      const cached = active.get(key, at) ?? inactive.get(key, at);
      if (cached) {
        // `exp` is checked again: the entry may have been stored before the clock passed it.
        return cached.active && cached.exp !== null && cached.exp * 1000 <= at ? INACTIVE : cached;
      }
      const pending = inFlight.get(key);
      if (pending) return pending;
      if (inFlight.size >= maxConcurrent) {
        options.logger?.warn({ inFlight: inFlight.size }, "token introspection overloaded");
        throw new IntrospectionUnavailableError("too many introspection requests in flight");
      }
      const promise = lookUp(key, token);
      inFlight.set(key, promise);
      return promise;
    },
    get cacheSize() {
      return { active: active.size, inactive: inactive.size };
    },
  };
}
