import { resolve } from "node:path";
import type { DatabaseOptions } from "./db.ts";

/** Used only outside production when INTERNAL_SECRET is unset; `npm start` always sets a random one. */
export const DEVELOPMENT_INTERNAL_SECRET = "development-only-internal-secret-do-not-deploy";

/** Settings every subgraph service reads from the environment. */
export interface ServiceConfig {
  readonly name: string;
  /** @default the service's own default port */
  readonly port: number;
  /** @default "127.0.0.1" */
  readonly host: string;
  /** SQLite file. @default ".data/<name>.db" */
  readonly databasePath: string;
  /**
   * Where the service keeps its data: SQLite at `databasePath`, or PostgreSQL when `DATABASE_URL`
   * is set (schema `DATABASE_SCHEMA_PREFIX` + name). @default SQLite at `databasePath`
   */
  readonly database: Readonly<DatabaseOptions>;
  /** Shared secret that signs identity tokens between the gateway and the services. */
  readonly internalSecret: string;
  readonly production: boolean;
  /** @default "info" */
  readonly logLevel: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

export function readInternalSecret(env: NodeJS.ProcessEnv, production: boolean): string {
  const secret = env.INTERNAL_SECRET;
  if (secret === undefined || secret === "") {
    if (production) throw new ConfigError("INTERNAL_SECRET is required in production (32+ characters)");
    return DEVELOPMENT_INTERNAL_SECRET;
  }
  if (secret.length < 32) throw new ConfigError("INTERNAL_SECRET must be at least 32 characters");
  return secret;
}

/** `DATABASE_URL` (postgres:// only) and `DATABASE_SCHEMA_PREFIX`; without a URL, SQLite at `databasePath`. */
export function readDatabaseOptions(env: NodeJS.ProcessEnv, databasePath: string): Readonly<DatabaseOptions> {
  const url = env.DATABASE_URL;
  const prefix = env.DATABASE_SCHEMA_PREFIX ?? "";
  if (!/^([a-z_][a-z0-9_]*)?$/.test(prefix) || prefix.length > 40) {
    throw new ConfigError(
      `DATABASE_SCHEMA_PREFIX must be lower-case letters, digits and _ (at most 40, not starting with a digit), got "${prefix}"`,
    );
  }
  if (!url) return Object.freeze({ databasePath });
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError("DATABASE_URL must be a postgres:// URL");
  }
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got a ${protocol} URL`);
  }
  return Object.freeze({ databasePath, databaseUrl: url, databaseSchemaPrefix: prefix });
}

export function readServiceConfig(name: string, defaultPort: number, env = process.env): ServiceConfig {
  const production = env.NODE_ENV === "production";
  const databasePath = env.DATABASE_PATH || resolve(env.DATA_DIR || ".data", `${name}.db`);
  return Object.freeze({
    name,
    port: readPort(env, "PORT", defaultPort),
    host: env.HOST || "127.0.0.1",
    databasePath,
    database: readDatabaseOptions(env, databasePath),
    internalSecret: readInternalSecret(env, production),
    production,
    logLevel: env.LOG_LEVEL || "info",
  });
}

/** An http(s) URL from `name`, or `fallback`; anything else stops start-up naming the variable. */
export function readUrl(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  return url.href;
}
