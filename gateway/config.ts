import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type ObservabilityConfig, tracesUrlOf } from "./observability/options.ts";
import { parseCidrs } from "./plugins/guards/access.ts";
import { DEFAULT_THROTTLE_EXEMPT, type GuardsConfig } from "./plugins/guards/options.ts";
import { parseOverrides } from "./plugins/guards/policy.ts";

/** Used only outside production when INTERNAL_SECRET is unset; `npm start` always sets a random one. */
const DEVELOPMENT_INTERNAL_SECRET = "development-only-internal-secret-do-not-deploy";

export interface AuthConfig {
  /** JWKS of the token issuer. @default the `users` subgraph's `/.well-known/jwks.json` */
  readonly jwksUrl: string | null;
  /** Accept HS256 tokens signed with this shared secret. @default null (off) */
  readonly jwtSecret: string | null;
  /** Required `iss` when set. @default null */
  readonly issuer: string | null;
  /** Required `aud` when set. @default null */
  readonly audience: string | null;
  /** Leeway for `exp` and `nbf`. @default 5 */
  readonly clockToleranceSeconds: number;
  /** Longer bearer tokens are refused without being parsed. @default 8192 */
  readonly maxTokenBytes: number;
  /** Fetched keys are used this long before a refresh. @default 600 */
  readonly jwksCacheSeconds: number;
  /** A token with an unknown `kid` refetches the JWKS at most this often (key rotation). @default 10 */
  readonly jwksRefreshCooldownSeconds: number;
  /** While the JWKS host is down, cached keys keep verifying this long. @default 86400 */
  readonly jwksStaleMaxAgeSeconds: number;
  /** RFC 7662 introspection of opaque (non-JWT) bearer tokens; null refuses them as malformed. @default null */
  readonly introspection: IntrospectionConfig | null;
}

/** INTROSPECTION_URL with the gateway's client credentials, and the answer cache's bounds. */
export interface IntrospectionConfig {
  /** INTROSPECTION_URL: the authorization server's introspection endpoint. */
  readonly url: string;
  /** INTROSPECTION_CLIENT_ID */
  readonly clientId: string;
  /** INTROSPECTION_CLIENT_SECRET */
  readonly clientSecret: string;
  /** INTROSPECTION_CACHE_MAX_ENTRIES. @default 10000 */
  readonly cacheMaxEntries: number;
  /** INTROSPECTION_CACHE_MAX_SECONDS: active answers are kept this long at most, never past `exp`. @default 60 */
  readonly cacheMaxSeconds: number;
  /** INTROSPECTION_INACTIVE_CACHE_SECONDS: inactive answers are kept this long. @default 10 */
  readonly inactiveCacheSeconds: number;
  /** INTROSPECTION_TIMEOUT_MS. @default 2000 */
  readonly timeoutMs: number;
}

export interface GatewayConfig {
  /** @default 4000 */
  readonly port: number;
  /** @default "127.0.0.1" ("0.0.0.0" in production) */
  readonly host: string;
  /** The composed supergraph; watched and hot-reloaded. @default "schema/supergraph.graphql" */
  readonly supergraphPath: string;
  /** NODE_ENV=production: no introspection, stack traces or field suggestions. */
  readonly production: boolean;
  /** Signs the identity the gateway passes to subgraphs. */
  readonly internalSecret: string;
  readonly auth: AuthConfig;
  /**
   * HTTP client for subgraph fetches: "undici" (keep-alive pool) or "default" (@apollo/gateway's own,
   * slower; kept as a baseline for benchmarks and as a fallback). @default "undici"
   */
  readonly subgraphFetcher: "undici" | "default";
  /**
   * Instances per subgraph, overriding the supergraph's routing URL: requests are balanced over
   * them with failover. @default none (the supergraph's URLs)
   */
  readonly subgraphUrls: ReadonlyMap<string, readonly string[]>;
  /** How long a failed subgraph instance is left out. @default 10 */
  readonly subgraphEjectSeconds: number;
  /** Per-subgraph request timeout. @default 10000 */
  readonly subgraphTimeoutMs: number;
  /** Largest accepted request body. @default 1048576 */
  readonly bodyLimitBytes: number;
  /** Largest JSON body the REST shim (`/api/*`) accepts; larger ones get 413. @default 65536 */
  readonly restBodyLimitBytes: number;
  /** @default !production */
  readonly introspection: boolean;
  /** EXPLORER: GraphiQL on /graphql, /api/docs and /status for browsers; never in production. @default !production */
  readonly explorer: boolean;
  /** @default "info" */
  readonly logLevel: string;
  /** Request log, metrics and tracing (see gateway/observability/options.ts). */
  readonly observability: ObservabilityConfig;
  /** Rate limits, shape limits, throttling and blocking (see gateway/plugins/guards). */
  readonly guards: GuardsConfig;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value.trim() === "" ? null : value.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function url(env: Env, name: string): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
    return parsed.toString();
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
}

/**
 * Reads, validates and freezes the gateway configuration. Command-line flags (`--supergraph`,
 * `--port`, `--host`) win over the environment. Throws a ConfigError naming the bad variable.
 */
export function loadConfig(env: Env = process.env, argv: string[] = []): GatewayConfig {
  const { values } = parseArgs({
    args: argv,
    options: { supergraph: { type: "string" }, port: { type: "string" }, host: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const merged: Env = {
    ...env,
    ...(values.supergraph !== undefined && { SUPERGRAPH_PATH: values.supergraph }),
    ...(values.port !== undefined && { PORT: values.port }),
    ...(values.host !== undefined && { HOST: values.host }),
  };
  const production = merged.NODE_ENV === "production";

  let internalSecret = str(merged, "INTERNAL_SECRET");
  if (internalSecret === null) {
    if (production) throw new ConfigError("INTERNAL_SECRET is required in production (32+ characters)");
    internalSecret = DEVELOPMENT_INTERNAL_SECRET;
  } else if (internalSecret.length < 32) {
    throw new ConfigError("INTERNAL_SECRET must be at least 32 characters");
  }

  const jwtSecret = str(merged, "JWT_SECRET");
  if (jwtSecret !== null && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError("JWT_SECRET must be at least 32 bytes (HS256 needs a 256-bit key)");
  }

  return Object.freeze({
    port: int(merged, "PORT", 4000, 0, 65535),
    host: str(merged, "HOST") ?? (production ? "0.0.0.0" : "127.0.0.1"),
    supergraphPath: resolve(str(merged, "SUPERGRAPH_PATH") ?? "schema/supergraph.graphql"),
    production,
    internalSecret,
    auth: Object.freeze({
      jwksUrl: url(merged, "JWKS_URL"),
      jwtSecret,
      issuer: str(merged, "JWT_ISSUER"),
      audience: str(merged, "JWT_AUDIENCE"),
      clockToleranceSeconds: int(merged, "JWT_CLOCK_TOLERANCE_SECONDS", 5, 0, 300),
      maxTokenBytes: int(merged, "JWT_MAX_TOKEN_BYTES", 8192, 256, 65536),
      jwksCacheSeconds: int(merged, "JWKS_CACHE_SECONDS", 600, 1, 86_400),
      jwksRefreshCooldownSeconds: int(merged, "JWKS_REFRESH_COOLDOWN_SECONDS", 10, 0, 3600),
      jwksStaleMaxAgeSeconds: int(merged, "JWKS_STALE_MAX_AGE_SECONDS", 86_400, 0, 30 * 86_400),
      introspection: introspectionConfig(merged),
    }),
    subgraphFetcher: oneOf(merged, "SUBGRAPH_FETCHER", ["undici", "default"] as const, "undici"),
    subgraphUrls: parsed(merged, "SUBGRAPH_URLS", parseSubgraphUrls, new Map()),
    subgraphEjectSeconds: int(merged, "SUBGRAPH_EJECT_SECONDS", 10, 1, 3600),
    subgraphTimeoutMs: int(merged, "SUBGRAPH_TIMEOUT_MS", 10_000, 100, 300_000),
    bodyLimitBytes: int(merged, "BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    restBodyLimitBytes: int(merged, "REST_BODY_LIMIT_BYTES", 64 * 1024, 1024, 64 * 1024 * 1024),
    introspection: bool(merged, "INTROSPECTION", !production),
    explorer: !production && bool(merged, "EXPLORER", true),
    logLevel: str(merged, "LOG_LEVEL") ?? "info",
    observability: observabilityConfig(merged),
    guards: guardsConfig(merged),
  });
}

/** Token introspection is on when its URL and client credentials are all given, off when none is. */
function introspectionConfig(env: Env): IntrospectionConfig | null {
  const names = ["INTROSPECTION_URL", "INTROSPECTION_CLIENT_ID", "INTROSPECTION_CLIENT_SECRET"] as const;
  const given = names.filter((name) => str(env, name) !== null);
  if (given.length === 0) return null;
  if (given.length < names.length) {
    const missing = names.filter((name) => !given.includes(name));
    throw new ConfigError(`${missing.join(" and ")} must be set too: token introspection needs ${names.join(", ")}`);
  }
  return Object.freeze({
    url: url(env, "INTROSPECTION_URL")!,
    clientId: str(env, "INTROSPECTION_CLIENT_ID")!,
    clientSecret: str(env, "INTROSPECTION_CLIENT_SECRET")!,
    cacheMaxEntries: int(env, "INTROSPECTION_CACHE_MAX_ENTRIES", 10_000, 1, 10_000_000),
    cacheMaxSeconds: int(env, "INTROSPECTION_CACHE_MAX_SECONDS", 60, 0, 3600),
    inactiveCacheSeconds: int(env, "INTROSPECTION_INACTIVE_CACHE_SECONDS", 10, 0, 3600),
    timeoutMs: int(env, "INTROSPECTION_TIMEOUT_MS", 2000, 100, 60_000),
  });
}

/** `name=url|url,name2=url`: the instances of each named subgraph. */
function parseSubgraphUrls(raw: string): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const entry of raw
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq).trim();
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`expected name=url|url, got "${entry}"`);
    const urls = entry
      .slice(eq + 1)
      .split("|")
      .map((u) => u.trim());
    for (const u of urls) {
      let parsedUrl: URL;
      try {
        parsedUrl = new URL(u);
      } catch {
        throw new Error(`"${u}" is not a URL`);
      }
      if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") throw new Error(`"${u}" is not http(s)`);
    }
    map.set(name, Object.freeze(urls));
  }
  return map;
}

/** A value parsed by `parse`; its RangeError becomes a ConfigError naming the variable. */
function parsed<T>(env: Env, name: string, parse: (raw: string) => T, fallback: T): T {
  const raw = str(env, name);
  if (raw === null) return fallback;
  try {
    return parse(raw);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
}

/** A CIDR list; "none" means an empty list where the default is not. */
function cidrs(env: Env, name: string, fallback: readonly string[]): readonly string[] {
  return Object.freeze(parsed(env, name, (raw) => (raw === "none" ? [] : parseCidrs(raw)), [...fallback]));
}

function guardsConfig(env: Env): GuardsConfig {
  const redisUrl = str(env, "REDIS_URL");
  if (redisUrl !== null && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got "${redisUrl}"`);
  }
  const trustedProxies = parsed(
    env,
    "TRUSTED_PROXIES",
    (raw) =>
      raw.split(",").flatMap((entry) => {
        const name = entry.trim();
        if (name === "") return [];
        return ["loopback", "linklocal", "uniquelocal"].includes(name) ? [name] : parseCidrs(name);
      }),
    [] as string[],
  );
  const throttleRps = int(env, "THROTTLE_RPS", 50, 0, 1_000_000);
  return Object.freeze({
    redisUrl,
    redisKeyPrefix: str(env, "REDIS_KEY_PREFIX") ?? "shop:ratelimit:",
    rateLimitOverrides: parsed(env, "RATE_LIMIT_OVERRIDES", parseOverrides, new Map()),
    rateLimitMaxEntries: int(env, "RATE_LIMIT_MAX_ENTRIES", 100_000, 100, 10_000_000),
    maxDepth: int(env, "MAX_DEPTH", 10, 0, 1000),
    maxIntrospectionDepth: int(env, "MAX_INTROSPECTION_DEPTH", 15, 0, 1000),
    maxAliases: int(env, "MAX_ALIASES", 20, 0, 100_000),
    maxRootFields: int(env, "MAX_ROOT_FIELDS", 10, 0, 100_000),
    maxDirectives: int(env, "MAX_DIRECTIVES", 4, 0, 1000),
    maxRepeatedFields: int(env, "MAX_REPEATED_FIELDS", 5, 0, 100_000),
    maxCost: int(env, "MAX_COST", 1000, 0, 1_000_000_000),
    defaultListSize: int(env, "COST_DEFAULT_LIST_SIZE", 10, 0, 100_000),
    maxTokens: int(env, "MAX_TOKENS", 2000, 0, 1_000_000),
    batchMax: int(env, "BATCH_MAX", 0, 0, 1000),
    throttleRps,
    throttleBurst: int(env, "THROTTLE_BURST", Math.max(100, throttleRps * 2), 1, 10_000_000),
    throttleExempt: cidrs(env, "THROTTLE_EXEMPT", DEFAULT_THROTTLE_EXEMPT),
    ipAllow: cidrs(env, "IP_ALLOW", []),
    ipDeny: cidrs(env, "IP_DENY", []),
    trustedProxies: Object.freeze(trustedProxies),
    blockThreshold: int(env, "BLOCK_THRESHOLD", 30, 0, 1_000_000),
    blockWindowSeconds: int(env, "BLOCK_WINDOW_SECONDS", 60, 1, 86_400),
    blockDurationSeconds: int(env, "BLOCK_DURATION_SECONDS", 900, 1, 30 * 86_400),
  });
}

function observabilityConfig(env: Env): ObservabilityConfig {
  const base = url(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const traces = url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const tracesOff = str(env, "OTEL_TRACES_EXPORTER") === "none" || bool(env, "OTEL_SDK_DISABLED", false);
  const ratio = str(env, "OTEL_TRACES_SAMPLER_ARG");
  const sampleRatio = ratio === null ? 1 : Number(ratio);
  if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${ratio}"`);
  }
  return Object.freeze({
    logRequests: bool(env, "LOG_REQUESTS", true),
    metricsEnabled: bool(env, "METRICS_ENABLED", true),
    maxOperationNames: int(env, "METRICS_MAX_OPERATION_NAMES", 100, 0, 10_000),
    otlpTracesUrl: tracesOff ? null : (traces ?? (base === null ? null : tracesUrlOf(base))),
    serviceName: str(env, "OTEL_SERVICE_NAME") ?? "gateway",
    traceSampleRatio: sampleRatio,
  });
}
