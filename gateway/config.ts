import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { GATEWAY_ISSUER, type IdentitySigningKey, resolveIdentityKeys } from "../common/index.ts";
import { DEFAULT_THROTTLE_EXEMPT, type GuardsConfig, parseCidrs, parseOverrides } from "./guards/index.ts";
import { DEFAULT_HEAP_GROWTH_PERCENT, MAX_HEAP_GROWTH_PERCENT } from "./heap.ts";
import { type ObservabilityConfig, tracesUrlOf } from "./observability/index.ts";
import type { ResponseCacheConfig } from "./response-cache/index.ts";
import type { TrustedDocumentsConfig } from "./trusted-documents/index.ts";

export interface AuthConfig {
  /** JWKS of the token issuer. @default the `users` subgraph's `/.well-known/jwks.json` */
  readonly jwksUrl: string | null;
  /** Accept HS256 tokens signed with this shared secret. @default null (off) */
  readonly jwtSecret: string | null;
  /** Required `iss` (JWT_ISSUER). @default "urn:shop:users", what the users service issues */
  readonly issuer: string | null;
  /** Required `aud` (JWT_AUDIENCE). @default "urn:shop:api", what the users service issues */
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
  /** A verified JWT is remembered this long at most (never past its `exp`); 0 checks every time. @default 60 */
  readonly verifiedCacheSeconds: number;
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
  /**
   * GATEWAY_WORKERS: processes serving the port. Above 1, a primary process supervises that many
   * workers and holds their shared rate-limit counters (see gateway/workers/).
   * @default the number of cores in production, 1 otherwise
   */
  readonly workers: number;
  /**
   * GATEWAY_HEAP_GROWTH_PERCENT: how far V8 lets the heap grow past what the last full collection
   * kept before it collects again (V8's `--heap-growing-percent`). Under load V8's own heuristic lets
   * a gateway's heap grow to several times its live set (about 70 MB) before collecting; 0 leaves
   * V8's heuristic. Measured in bench/RESULTS.md.
   * @default 50
   */
  readonly heapGrowthPercent: number;
  /** NODE_ENV=production: no introspection, stack traces or field suggestions. */
  readonly production: boolean;
  /**
   * IDENTITY_PRIVATE_KEY (Ed25519 or P-256, PEM or JWK): signs the identity the gateway passes to
   * subgraphs, as issuer `gateway`. @default a development key, only outside production on loopback
   */
  readonly identityKey: IdentitySigningKey;
  /**
   * Where `/metrics` is served. `METRICS_PORT` (on `METRICS_HOST`, default HOST): a port of its own,
   * and not on the public port. `METRICS_TOKEN`: on the public port behind `Authorization: Bearer`.
   * In production with neither, `/metrics` is not served (404). @default the public port, open, outside production
   */
  readonly metricsAccess: MetricsAccess;
  readonly auth: AuthConfig;
  /**
   * Identical query fetches in flight at the same time (same subgraph, document, variables and
   * caller) share one subgraph answer; mutations never (SUBGRAPH_DEDUPE). @default true
   */
  readonly subgraphDedupe: boolean;
  /**
   * Instances per subgraph, overriding the supergraph's routing URL: requests are balanced over
   * them with failover. @default none (the supergraph's URLs)
   */
  readonly subgraphUrls: ReadonlyMap<string, readonly string[]>;
  /** How long an instance's open circuit stays open before one trial request. @default 10 */
  readonly subgraphEjectSeconds: number;
  /** Per subgraph fetch (each try), never more than what is left of the request's deadline. @default 10000 */
  readonly subgraphTimeoutMs: number;
  /** One deadline per client request, carried through every subgraph fetch and retry. @default 10000 */
  readonly requestTimeoutMs: number;
  /** Consecutive failures (fetches or probes) that open an instance's circuit. @default 3 */
  readonly subgraphCircuitFailures: number;
  /** Between two `/healthz` probes of every subgraph instance; 0 turns probing off. @default 5000 */
  readonly subgraphProbeIntervalMs: number;
  /** A probe not answered within this counts as a failure. @default 2000 */
  readonly subgraphProbeTimeoutMs: number;
  /** Retries per subgraph: at most this share of its requests over 10 s… @default 0.2 */
  readonly subgraphRetryRatio: number;
  /** …plus this many per second whatever the traffic. @default 10 */
  readonly subgraphRetryMinPerSecond: number;
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
  /** Request log, metrics and tracing (see gateway/observability/). */
  readonly observability: ObservabilityConfig;
  /** Rate limits, shape limits, throttling and blocking (see gateway/guards/). */
  readonly guards: GuardsConfig;
  /** Whole PUBLIC answers kept and served again (see gateway/response-cache/). */
  readonly responseCache: ResponseCacheConfig;
  /** The persisted query manifest and trusted-only mode (see gateway/trusted-documents/). */
  readonly trustedDocuments: TrustedDocumentsConfig;
}

/** How `/metrics` may be reached. */
export interface MetricsAccess {
  /** METRICS_PORT: a listener of its own for `/metrics`; null keeps it on the public port. @default null */
  readonly port: number | null;
  /** METRICS_HOST: the address of that listener. @default HOST */
  readonly host: string;
  /** METRICS_TOKEN: the bearer token `/metrics` asks for (on whichever port). @default null (no token) */
  readonly token: string | null;
  /** `/metrics` answers on the public port (outside production, or with a token). */
  readonly onPublicPort: boolean;
}

/** What the users service puts in `iss` and `aud` of the tokens it issues (TOKEN_ISSUER/TOKEN_AUDIENCE). */
export const DEFAULT_JWT_ISSUER = "urn:shop:users";
export const DEFAULT_JWT_AUDIENCE = "urn:shop:api";

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

/*
 * Every variable the gateway reads, each with its own schema: an unset or blank variable is absent
 * (its default applies), anything else must parse. An issue's path is the variable's name, so
 * every message names the variable.
 */

/** The trimmed value; null when unset or blank. */
const text = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? null : value.trim()));

/** What is wrong with a value, said after the variable's name ("must be ..."). */
class Problem extends Error {}

/** A value read by `parse`; what it throws is reported under the variable's name. */
function parsedWith<T>(parse: (raw: string) => T) {
  return text.transform((raw, ctx): T | null => {
    if (raw === null) return null;
    try {
      return parse(raw);
    } catch (error) {
      const message = (error as Error).message;
      ctx.addIssue({ code: "custom", message: error instanceof Problem ? message : `is not valid: ${message}` });
      return z.NEVER;
    }
  });
}

function integer(min: number, max: number) {
  return parsedWith((raw) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Problem(`must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  });
}

const flag = parsedWith((raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Problem(`must be true or false, got "${raw}"`);
});

const httpUrl = parsedWith((raw) => {
  let parsed: URL | null = null;
  try {
    parsed = new URL(raw);
  } catch {}
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:")
    throw new Problem(`must be an http(s) URL, got "${raw}"`);
  return parsed.toString();
});

/** A CIDR list; "none" means an empty list where the default is not. */
const cidrList = parsedWith((raw) => (raw === "none" ? [] : parseCidrs(raw)));

/** JWT_SECRET verifies HS256 tokens, which need a 256-bit key. */
const jwtSecret = parsedWith((raw) => {
  if (Buffer.byteLength(raw) < 32) throw new Problem("must be at least 32 bytes (HS256 needs a 256-bit key)");
  return raw;
});

const ENVIRONMENT = z.object({
  NODE_ENV: text,
  PORT: integer(0, 65535),
  HOST: text,
  SUPERGRAPH_PATH: text,
  GATEWAY_WORKERS: integer(1, 1024),
  GATEWAY_HEAP_GROWTH_PERCENT: integer(0, MAX_HEAP_GROWTH_PERCENT),
  IDENTITY_PRIVATE_KEY: text,
  METRICS_PORT: integer(0, 65535),
  METRICS_HOST: text,
  METRICS_TOKEN: parsedWith((raw) => {
    if (raw.length < 16) throw new Problem("must be at least 16 characters");
    return raw;
  }),
  LOG_LEVEL: text,
  INTROSPECTION: flag,
  EXPLORER: flag,
  RESPONSE_CACHE: flag,
  RESPONSE_CACHE_MAX_MB: integer(1, 64 * 1024),
  RESPONSE_CACHE_KEY_PREFIX: text,
  SUBGRAPH_DEDUPE: flag,
  SUBGRAPH_URLS: parsedWith(parseSubgraphUrls),
  SUBGRAPH_EJECT_SECONDS: integer(1, 3600),
  SUBGRAPH_TIMEOUT_MS: integer(100, 300_000),
  REQUEST_TIMEOUT_MS: integer(100, 600_000),
  SUBGRAPH_CIRCUIT_FAILURES: integer(1, 1000),
  SUBGRAPH_PROBE_INTERVAL_MS: parsedWith((raw) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || (value !== 0 && (value < 100 || value > 3_600_000)))
      throw new Problem(`must be 0 (off) or an integer from 100 to 3600000, got "${raw}"`);
    return value;
  }),
  SUBGRAPH_PROBE_TIMEOUT_MS: integer(10, 60_000),
  SUBGRAPH_RETRY_RATIO: parsedWith((raw) => {
    const ratio = Number(raw);
    if (raw === "" || !Number.isFinite(ratio) || ratio < 0 || ratio > 10)
      throw new Problem(`must be a number from 0 to 10, got "${raw}"`);
    return ratio;
  }),
  SUBGRAPH_RETRY_MIN_PER_SECOND: integer(0, 100_000),
  BODY_LIMIT_BYTES: integer(1024, 64 * 1024 * 1024),
  REST_BODY_LIMIT_BYTES: integer(1024, 64 * 1024 * 1024),
  // Authentication
  JWKS_URL: httpUrl,
  JWT_SECRET: jwtSecret,
  JWT_ISSUER: text,
  JWT_AUDIENCE: text,
  JWT_CLOCK_TOLERANCE_SECONDS: integer(0, 300),
  JWT_MAX_TOKEN_BYTES: integer(256, 65536),
  JWKS_CACHE_SECONDS: integer(1, 86_400),
  JWKS_REFRESH_COOLDOWN_SECONDS: integer(0, 3600),
  JWKS_STALE_MAX_AGE_SECONDS: integer(0, 30 * 86_400),
  JWT_CACHE_SECONDS: integer(0, 3600),
  INTROSPECTION_URL: httpUrl,
  INTROSPECTION_CLIENT_ID: text,
  INTROSPECTION_CLIENT_SECRET: text,
  INTROSPECTION_CACHE_MAX_ENTRIES: integer(1, 10_000_000),
  INTROSPECTION_CACHE_MAX_SECONDS: integer(0, 3600),
  INTROSPECTION_INACTIVE_CACHE_SECONDS: integer(0, 3600),
  INTROSPECTION_TIMEOUT_MS: integer(100, 60_000),
  // Observability
  LOG_REQUESTS: flag,
  METRICS_ENABLED: flag,
  METRICS_MAX_OPERATION_NAMES: integer(0, 10_000),
  METRICS_OPERATION_EARN_MINUTES: integer(1, 1440),
  METRICS_OPERATION_RETIRE_MINUTES: integer(1, 30 * 1440),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl,
  OTEL_TRACES_EXPORTER: text,
  OTEL_SDK_DISABLED: flag,
  OTEL_SERVICE_NAME: text,
  OTEL_TRACES_SAMPLER_ARG: parsedWith((raw) => {
    const ratio = Number(raw);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
      throw new Problem(`must be a number from 0 to 1, got "${raw}"`);
    return ratio;
  }),
  // Guards
  REDIS_URL: parsedWith((raw) => {
    if (!/^rediss?:\/\/[^\s]+$/.test(raw)) throw new Problem(`must be a redis:// or rediss:// URL, got "${raw}"`);
    return raw;
  }),
  REDIS_KEY_PREFIX: text,
  RATE_LIMIT_OVERRIDES: parsedWith(parseOverrides),
  RATE_LIMIT_MAX_ENTRIES: integer(100, 10_000_000),
  MAX_DEPTH: integer(0, 1000),
  MAX_INTROSPECTION_DEPTH: integer(0, 1000),
  MAX_ALIASES: integer(0, 100_000),
  MAX_ROOT_FIELDS: integer(0, 100_000),
  MAX_DIRECTIVES: integer(0, 1000),
  MAX_REPEATED_FIELDS: integer(0, 100_000),
  MAX_COST: integer(0, 1_000_000_000),
  COST_DEFAULT_LIST_SIZE: integer(0, 100_000),
  COST_MODE: parsedWith((raw) => {
    if (raw !== "enforce" && raw !== "measure") throw new Problem(`must be one of enforce, measure, got "${raw}"`);
    return raw;
  }),
  MAX_TOKENS: integer(0, 1_000_000),
  BATCH_MAX: integer(0, 1000),
  THROTTLE_RPS: integer(0, 1_000_000),
  THROTTLE_BURST: integer(1, 10_000_000),
  THROTTLE_EXEMPT: cidrList,
  IP_ALLOW: cidrList,
  IP_DENY: cidrList,
  TRUSTED_PROXIES: parsedWith((raw) =>
    raw.split(",").flatMap((entry) => {
      const name = entry.trim();
      if (name === "") return [];
      return ["loopback", "linklocal", "uniquelocal"].includes(name) ? [name] : parseCidrs(name);
    }),
  ),
  BLOCK_THRESHOLD: integer(0, 1_000_000),
  BLOCK_WINDOW_SECONDS: integer(1, 86_400),
  BLOCK_DURATION_SECONDS: integer(1, 30 * 86_400),
  // Trusted documents
  TRUSTED_DOCUMENTS: text,
  TRUSTED_DOCUMENTS_ONLY: flag,
});

type Environment = z.infer<typeof ENVIRONMENT>;

/** Freezes a config and every object in it (maps and arrays included, as far as they allow). */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Reads, validates and freezes the gateway configuration. Command-line flags (`--supergraph`,
 * `--port`, `--host`) win over the environment. Throws a ConfigError naming the bad variables.
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
  const result = ENVIRONMENT.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; "));
  }
  return deepFreeze(configOf(result.data, merged.NODE_ENV === "production"));
}

/** The typed configuration: defaults filled in, and the rules that involve several variables. */
function configOf(env: Environment, production: boolean): GatewayConfig {
  // The development key is public: only for a gateway that listens on loopback outside production.
  const host = env.HOST ?? (production ? "0.0.0.0" : "127.0.0.1");
  const keys = resolveIdentityKeys(
    { privateKey: env.IDENTITY_PRIVATE_KEY ?? undefined, publicKeys: undefined },
    { production, host, issuer: GATEWAY_ISSUER, trusts: [] },
  );
  if ("error" in keys) throw new ConfigError(keys.error);
  const identityKey = keys.keys.signing!;
  const throttleRps = env.THROTTLE_RPS ?? 50;
  const tracesOff = env.OTEL_TRACES_EXPORTER === "none" || env.OTEL_SDK_DISABLED === true;
  const tracesBase = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return {
    port: env.PORT ?? 4000,
    host,
    supergraphPath: resolve(env.SUPERGRAPH_PATH ?? "schema/supergraph.graphql"),
    workers: env.GATEWAY_WORKERS ?? (production ? availableParallelism() : 1),
    heapGrowthPercent: env.GATEWAY_HEAP_GROWTH_PERCENT ?? DEFAULT_HEAP_GROWTH_PERCENT,
    production,
    identityKey,
    metricsAccess: {
      port: env.METRICS_PORT,
      host: env.METRICS_HOST ?? host,
      token: env.METRICS_TOKEN,
      onPublicPort: env.METRICS_PORT === null && (!production || env.METRICS_TOKEN !== null),
    },
    auth: {
      jwksUrl: env.JWKS_URL,
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER ?? DEFAULT_JWT_ISSUER,
      audience: env.JWT_AUDIENCE ?? DEFAULT_JWT_AUDIENCE,
      clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS ?? 5,
      maxTokenBytes: env.JWT_MAX_TOKEN_BYTES ?? 8192,
      jwksCacheSeconds: env.JWKS_CACHE_SECONDS ?? 600,
      jwksRefreshCooldownSeconds: env.JWKS_REFRESH_COOLDOWN_SECONDS ?? 10,
      jwksStaleMaxAgeSeconds: env.JWKS_STALE_MAX_AGE_SECONDS ?? 86_400,
      verifiedCacheSeconds: env.JWT_CACHE_SECONDS ?? 60,
      introspection: introspectionConfig(env),
    },
    subgraphDedupe: env.SUBGRAPH_DEDUPE ?? true,
    subgraphUrls: env.SUBGRAPH_URLS ?? new Map(),
    subgraphEjectSeconds: env.SUBGRAPH_EJECT_SECONDS ?? 10,
    subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS ?? 10_000,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS ?? 10_000,
    subgraphCircuitFailures: env.SUBGRAPH_CIRCUIT_FAILURES ?? 3,
    subgraphProbeIntervalMs: env.SUBGRAPH_PROBE_INTERVAL_MS ?? 5000,
    subgraphProbeTimeoutMs: env.SUBGRAPH_PROBE_TIMEOUT_MS ?? 2000,
    subgraphRetryRatio: env.SUBGRAPH_RETRY_RATIO ?? 0.2,
    subgraphRetryMinPerSecond: env.SUBGRAPH_RETRY_MIN_PER_SECOND ?? 10,
    bodyLimitBytes: env.BODY_LIMIT_BYTES ?? 1024 * 1024,
    restBodyLimitBytes: env.REST_BODY_LIMIT_BYTES ?? 64 * 1024,
    introspection: env.INTROSPECTION ?? !production,
    explorer: !production && (env.EXPLORER ?? true),
    logLevel: env.LOG_LEVEL ?? "info",
    observability: {
      logRequests: env.LOG_REQUESTS ?? true,
      metricsEnabled: env.METRICS_ENABLED ?? true,
      maxOperationNames: env.METRICS_MAX_OPERATION_NAMES ?? 100,
      operationEarnMinutes: env.METRICS_OPERATION_EARN_MINUTES ?? 3,
      operationRetireMinutes: env.METRICS_OPERATION_RETIRE_MINUTES ?? 60,
      otlpTracesUrl: tracesOff
        ? null
        : (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (tracesBase === null ? null : tracesUrlOf(tracesBase))),
      serviceName: env.OTEL_SERVICE_NAME ?? "gateway",
      traceSampleRatio: env.OTEL_TRACES_SAMPLER_ARG ?? 1,
    },
    responseCache: {
      enabled: env.RESPONSE_CACHE ?? true,
      maxMegabytes: env.RESPONSE_CACHE_MAX_MB ?? 64,
      redisUrl: env.REDIS_URL,
      keyPrefix: env.RESPONSE_CACHE_KEY_PREFIX ?? "shop:responses:",
    },
    guards: {
      redisUrl: env.REDIS_URL,
      redisKeyPrefix: env.REDIS_KEY_PREFIX ?? "shop:ratelimit:",
      rateLimitOverrides: env.RATE_LIMIT_OVERRIDES ?? new Map(),
      rateLimitMaxEntries: env.RATE_LIMIT_MAX_ENTRIES ?? 100_000,
      maxDepth: env.MAX_DEPTH ?? 10,
      maxIntrospectionDepth: env.MAX_INTROSPECTION_DEPTH ?? 15,
      maxAliases: env.MAX_ALIASES ?? 20,
      maxRootFields: env.MAX_ROOT_FIELDS ?? 10,
      maxDirectives: env.MAX_DIRECTIVES ?? 4,
      maxRepeatedFields: env.MAX_REPEATED_FIELDS ?? 5,
      maxCost: env.MAX_COST ?? 1000,
      defaultListSize: env.COST_DEFAULT_LIST_SIZE ?? 5,
      costMode: env.COST_MODE ?? "enforce",
      maxTokens: env.MAX_TOKENS ?? 2000,
      batchMax: env.BATCH_MAX ?? 0,
      throttleRps,
      throttleBurst: env.THROTTLE_BURST ?? Math.max(100, throttleRps * 2),
      throttleExempt: env.THROTTLE_EXEMPT ?? [...DEFAULT_THROTTLE_EXEMPT],
      ipAllow: env.IP_ALLOW ?? [],
      ipDeny: env.IP_DENY ?? [],
      trustedProxies: env.TRUSTED_PROXIES ?? [],
      blockThreshold: env.BLOCK_THRESHOLD ?? 30,
      blockWindowSeconds: env.BLOCK_WINDOW_SECONDS ?? 60,
      blockDurationSeconds: env.BLOCK_DURATION_SECONDS ?? 900,
    },
    trustedDocuments: trustedDocumentsConfig(env, production),
  };
}

/** Trusted-only mode needs a manifest; with one, production runs only what it lists unless told otherwise. */
function trustedDocumentsConfig(env: Environment, production: boolean): TrustedDocumentsConfig {
  const path = env.TRUSTED_DOCUMENTS === null ? null : resolve(env.TRUSTED_DOCUMENTS);
  if (path === null && env.TRUSTED_DOCUMENTS_ONLY === true) {
    throw new ConfigError("TRUSTED_DOCUMENTS must be set too: TRUSTED_DOCUMENTS_ONLY runs only the documents it lists");
  }
  return { path, only: path !== null && (env.TRUSTED_DOCUMENTS_ONLY ?? production) };
}

/** Token introspection is on when its URL and client credentials are all given, off when none is. */
function introspectionConfig(env: Environment): IntrospectionConfig | null {
  const given = {
    INTROSPECTION_URL: env.INTROSPECTION_URL,
    INTROSPECTION_CLIENT_ID: env.INTROSPECTION_CLIENT_ID,
    INTROSPECTION_CLIENT_SECRET: env.INTROSPECTION_CLIENT_SECRET,
  };
  const names = Object.keys(given);
  const missing = Object.entries(given).flatMap(([name, value]) => (value === null ? [name] : []));
  if (missing.length === names.length) return null;
  if (missing.length > 0) {
    throw new ConfigError(`${missing.join(" and ")} must be set too: token introspection needs ${names.join(", ")}`);
  }
  return {
    url: given.INTROSPECTION_URL!,
    clientId: given.INTROSPECTION_CLIENT_ID!,
    clientSecret: given.INTROSPECTION_CLIENT_SECRET!,
    cacheMaxEntries: env.INTROSPECTION_CACHE_MAX_ENTRIES ?? 10_000,
    cacheMaxSeconds: env.INTROSPECTION_CACHE_MAX_SECONDS ?? 60,
    inactiveCacheSeconds: env.INTROSPECTION_INACTIVE_CACHE_SECONDS ?? 10,
    timeoutMs: env.INTROSPECTION_TIMEOUT_MS ?? 2000,
  };
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
