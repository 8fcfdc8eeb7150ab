import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from "jose";
import type { Logger } from "pino";

export interface CachedJwksOptions {
  url: string;
  /** Keys older than this are fetched again before use. @default 600000 (10 min) */
  maxAgeMs?: number;
  /** While the JWKS host is down, keys up to this old keep verifying. @default 86400000 (24 h) */
  staleMaxAgeMs?: number;
  /** An unknown `kid` refetches at most this often (a forged kid cannot hammer the issuer). @default 30000 */
  refreshCooldownMs?: number;
  /** @default 5000 */
  timeoutMs?: number;
  logger?: Pick<Logger, "warn" | "info">;
  /** For tests. @default Date.now */
  now?: () => number;
}

export interface CachedJwks extends JWTVerifyGetKey {
  /** When the keys in use were fetched, or null before the first fetch. */
  readonly fetchedAt: number | null;
}

/**
 * A remote JWKS with the behaviour a gateway needs and `createRemoteJWKSet` lacks: when the
 * issuer's JWKS host is down it keeps verifying with the last keys it had, for a bounded time,
 * and says so in the logs. Refreshes are single-flight; an unknown `kid` triggers a rate-limited
 * refresh, so key rotation at the issuer needs no restart.
 */
export function createCachedJwks(options: CachedJwksOptions): CachedJwks {
  const maxAge = options.maxAgeMs ?? 600_000;
  const staleMaxAge = options.staleMaxAgeMs ?? 86_400_000;
  const cooldown = options.refreshCooldownMs ?? 30_000;
  const timeout = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;

  let local: ReturnType<typeof createLocalJWKSet> | null = null;
  let fetchedAt: number | null = null;
  let lastAttempt = 0;
  let inFlight: Promise<void> | null = null;
  let degraded = false;

  async function fetchKeys(): Promise<void> {
    lastAttempt = now();
    const res = await fetch(options.url, {
      signal: AbortSignal.timeout(timeout),
      headers: { accept: "application/json" },
      redirect: "error",
    });
    if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
    const body = (await res.json()) as JSONWebKeySet;
    if (!body || !Array.isArray(body.keys)) throw new Error("JWKS has no keys array");
    local = createLocalJWKSet(body);
    fetchedAt = now();
    if (degraded) options.logger?.info({ url: options.url }, "JWKS reachable again");
    degraded = false;
  }

  /** Refreshes once for all concurrent callers; a failure keeps the old keys while they are fresh enough. */
  async function refresh(): Promise<void> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = null;
    });
    try {
      await inFlight;
    } catch (error) {
      const age = fetchedAt === null ? Number.POSITIVE_INFINITY : now() - fetchedAt;
      if (age > staleMaxAge) {
        local = null;
        throw new errors.JWKSTimeout(`JWKS unavailable and no usable cached keys: ${(error as Error).message}`);
      }
      if (!degraded) {
        degraded = true;
        options.logger?.warn(
          { url: options.url, err: error, keysFetchedAt: new Date(fetchedAt!).toISOString() },
          "JWKS unreachable; verifying with cached keys",
        );
      }
    }
  }

  const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (local === null || fetchedAt === null || now() - fetchedAt > maxAge) {
      // Do not retry a failing host on every request: at most once per cooldown.
      if (local === null || now() - lastAttempt >= Math.min(cooldown, maxAge)) await refresh();
    }
    if (local === null) throw new errors.JWKSNoMatchingKey("no keys available");
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || now() - lastAttempt < cooldown) throw error;
      await refresh();
      return local(header, token);
    }
  };
  Object.defineProperty(getKey, "fetchedAt", { get: () => fetchedAt });
  return getKey as CachedJwks;
}
