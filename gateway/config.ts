import { resolve } from "node:path";
import { parseArgs } from "node:util";

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
  /** While the JWKS host is down, cached keys keep verifying this long. @default 86400 */
  readonly jwksStaleMaxAgeSeconds: number;
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
  /** Per-subgraph request timeout. @default 10000 */
  readonly subgraphTimeoutMs: number;
  /** Largest accepted request body. @default 1048576 */
  readonly bodyLimitBytes: number;
  /** Largest JSON body the REST shim (`/api/*`) accepts; larger ones get 413. @default 65536 */
  readonly restBodyLimitBytes: number;
  /** @default !production */
  readonly introspection: boolean;
  /** @default "info" */
  readonly logLevel: string;
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
      jwksStaleMaxAgeSeconds: int(merged, "JWKS_STALE_MAX_AGE_SECONDS", 86_400, 0, 30 * 86_400),
    }),
    subgraphTimeoutMs: int(merged, "SUBGRAPH_TIMEOUT_MS", 10_000, 100, 300_000),
    bodyLimitBytes: int(merged, "BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    restBodyLimitBytes: int(merged, "REST_BODY_LIMIT_BYTES", 64 * 1024, 1024, 64 * 1024 * 1024),
    introspection: bool(merged, "INTROSPECTION", !production),
    logLevel: str(merged, "LOG_LEVEL") ?? "info",
  });
}
