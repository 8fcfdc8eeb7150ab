import { resolve } from "node:path";
import { z } from "zod";
import { type IdentityKeys, resolveIdentityKeys } from "../../common/identity-keys.ts";
import { GATEWAY_ISSUER } from "../../common/identity-token.ts";

/** A setting the process cannot start with; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The settings every service reads from the environment, validated once and frozen. */
export interface ServiceConfig {
  readonly name: string;
  /** PORT. @default the service's own port (users 4001, products 4002, orders 4003, payments 4004) */
  readonly port: number;
  /** HOST. @default "127.0.0.1" */
  readonly host: string;
  /** DATABASE_PATH, else DATA_DIR/<name>.db; the SQLite file when DATABASE_URL is unset. @default ".data/<name>.db" */
  readonly databasePath: string;
  /**
   * DATABASE_URL, a `postgres://` URL: the service keeps its data in PostgreSQL, in the schema
   * `databaseSchemaPrefix` + name. @default undefined (SQLite at `databasePath`)
   */
  readonly databaseUrl?: string;
  /** DATABASE_SCHEMA_PREFIX, prepended to the service name to form its PostgreSQL schema. @default "" */
  readonly databaseSchemaPrefix: string;
  /** DATABASE_POOL_SIZE, the most PostgreSQL connections the service holds at once. @default 10 */
  readonly databasePoolSize: number;
  /**
   * IDENTITY_PRIVATE_KEY (this service's own key, when it calls peers) and IDENTITY_PUBLIC_KEYS (the
   * gateway's key and those of the peers allowed to call it), verifying and signing identity tokens.
   * @default development keys, only outside production while listening on loopback
   */
  readonly identityKeys: IdentityKeys;
  /** NODE_ENV is "production". @default false */
  readonly production: boolean;
  /** LOG_LEVEL, a pino level. @default "info" */
  readonly logLevel: string;
  /**
   * OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT +
   * `/v1/traces`; null when unset or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none. @default null
   */
  readonly otlpTracesUrl: string | null;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Variable parsers. Each takes the raw string (undefined when unset or empty) and fails with a
 * message that completes "<VARIABLE> …".
 */
export const variable = {
  /** A TCP port from 0 to 65535. */
  port: (fallback: number) =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return fallback;
        const port = Number(raw);
        if (/^\d+$/.test(raw) && port <= 65535) return port;
        ctx.addIssue({ code: "custom", message: `must be a port number from 0 to 65535, got "${raw}"` });
        return z.NEVER;
      }),
  /** Any non-empty text. */
  text: (fallback: string) => z.string().default(fallback),
  /** An absolute http(s) URL, normalised; undefined when unset. */
  optionalHttpUrl: () =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return undefined;
        const url = URL.canParse(raw) ? new URL(raw) : null;
        if (url && (url.protocol === "http:" || url.protocol === "https:")) return url.href;
        ctx.addIssue({ code: "custom", message: `must be an http(s) URL, got "${raw}"` });
        return z.NEVER;
      }),
  /** An absolute http(s) URL, normalised. */
  httpUrl: (fallback: string) => variable.optionalHttpUrl().transform((url) => url ?? new URL(fallback).href),
  /** One or more absolute http(s) URLs separated by `|` (instances of one peer), normalised. */
  httpUrls: (fallback: string) =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return new URL(fallback).href;
        const urls = raw.split("|").map((part) => part.trim());
        const normalised = urls.map((part) => (URL.canParse(part) ? new URL(part) : null));
        if (normalised.every((url) => url && (url.protocol === "http:" || url.protocol === "https:"))) {
          return normalised.map((url) => url!.href).join("|");
        }
        ctx.addIssue({ code: "custom", message: `must be http(s) URLs separated by "|", got "${raw}"` });
        return z.NEVER;
      }),
  /** A whole number of seconds from 1 to `max`. */
  seconds: (fallback: number, max: number) =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return fallback;
        const value = Number(raw);
        if (/^\d+$/.test(raw) && value >= 1 && value <= max) return value;
        ctx.addIssue({ code: "custom", message: `must be a whole number of seconds from 1 to ${max}, got "${raw}"` });
        return z.NEVER;
      }),
  /** One token without spaces or control characters, as JWT claims like `iss` and `aud` are. */
  claim: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((raw) => !/[\s\p{Cc}]/u.test(raw) && raw.length <= 512, {
        error: (issue) =>
          `must be a single token without spaces (at most 512 characters), got "${String(issue.input)}"`,
      }),
  /** A whole number from 1 to `max`. */
  count: (fallback: number, max: number) =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return fallback;
        const value = Number(raw);
        if (/^\d+$/.test(raw) && value >= 1 && value <= max) return value;
        ctx.addIssue({ code: "custom", message: `must be a whole number from 1 to ${max}, got "${raw}"` });
        return z.NEVER;
      }),
  /**
   * A `postgres://` (or `postgresql://`) URL; undefined when unset. The message never repeats the
   * value: it may hold a password.
   */
  postgresUrl: () =>
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return undefined;
        const protocol = URL.canParse(raw) ? new URL(raw).protocol : null;
        if (protocol === "postgres:" || protocol === "postgresql:") return raw;
        ctx.addIssue({
          code: "custom",
          message: `must be a postgres:// URL${protocol ? `, got a ${protocol} URL` : ""}`,
        });
        return z.NEVER;
      }),
  /**
   * The start of PostgreSQL schema names: put on the search path unquoted, so only lower-case
   * letters, digits and _, not starting with a digit, short enough to leave room for the service name.
   */
  schemaPrefix: () =>
    z
      .string()
      .default("")
      .refine((raw) => /^([a-z_][a-z0-9_]*)?$/.test(raw) && raw.length <= 40, {
        error: (issue) =>
          `must be lower-case letters, digits and _ (at most 40, not starting with a digit), got "${String(issue.input)}"`,
      }),
};

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The one schema of the variables every service reads; each service adds its own beside it. */
function serviceVariables(defaultPort: number) {
  return {
    NODE_ENV: z.string().optional(),
    PORT: variable.port(defaultPort),
    HOST: variable.text("127.0.0.1"),
    DATABASE_PATH: z.string().optional(),
    DATA_DIR: variable.text(".data"),
    DATABASE_URL: variable.postgresUrl(),
    DATABASE_SCHEMA_PREFIX: variable.schemaPrefix(),
    // PostgreSQL allows 100 connections by default: a pool past that from one service is a typo.
    DATABASE_POOL_SIZE: variable.count(10, 100),
    // Checked with HOST and NODE_ENV below: whether a default is allowed depends on both.
    IDENTITY_PRIVATE_KEY: z.string().optional(),
    IDENTITY_PUBLIC_KEYS: z.string().optional(),
    LOG_LEVEL: z
      .enum(LOG_LEVELS, { error: (issue) => `must be one of ${LOG_LEVELS.join(", ")}, got "${String(issue.input)}"` })
      .default("info"),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
    OTEL_TRACES_EXPORTER: z.string().optional(),
    OTEL_SDK_DISABLED: z.string().optional(),
  };
}

/** What a service adds to the shared variables. */
export interface ServiceDefinition<S extends z.ZodRawShape, C extends object> {
  /** The service's name: its logger's name, its database file, the prefix of start-up errors. */
  name: string;
  /** The port when PORT is unset. */
  defaultPort: number;
  /**
   * Peer services allowed to call this one with their own identity (their public keys are read
   * from IDENTITY_PUBLIC_KEYS beside the gateway's). @default none
   */
  peers?: readonly string[];
  /** Whether the service calls peers, signing as itself with IDENTITY_PRIVATE_KEY. @default false */
  signs?: boolean;
  /** The service's own variables, by environment name. @default none */
  variables?: S;
  /**
   * Turns the parsed variables into the service's own settings; may throw ConfigError for rules
   * across variables. @default none
   */
  settings?: (variables: z.output<z.ZodObject<S>>, base: ServiceConfig) => C;
}

/** Declares a service's configuration: the shared variables plus its own. */
export function defineService<S extends z.ZodRawShape = Record<never, never>, C extends object = Record<never, never>>(
  definition: ServiceDefinition<S, C>,
): ServiceDefinition<S, C> {
  return definition;
}

function tracesUrl(env: z.output<z.ZodObject<ReturnType<typeof serviceVariables>>>): string | null {
  if (env.OTEL_TRACES_EXPORTER === "none" || /^(1|true)$/i.test(env.OTEL_SDK_DISABLED ?? "")) return null;
  const full = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (full) return full;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : null;
}

/**
 * Parses the variables of `shape` from `env` (an empty variable counts as unset; others are
 * ignored). Throws ConfigError naming the first bad variable.
 */
export function parseVariables<S extends z.ZodRawShape>(shape: S, env: Env): z.output<z.ZodObject<S>> {
  const present = Object.fromEntries(
    Object.keys(shape)
      .map((name) => [name, env[name]] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = z.object(shape).safeParse(present);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ConfigError(`${issue.path.join(".")} ${issue.message}`);
}

/**
 * Reads a service's whole configuration from `env`, validates it and freezes it. An empty variable
 * counts as unset. Throws ConfigError naming the first bad variable.
 */
export function readServiceConfig<S extends z.ZodRawShape, C extends object>(
  definition: ServiceDefinition<S, C>,
  env: Env = process.env,
): Readonly<ServiceConfig & C> {
  const shape = { ...serviceVariables(definition.defaultPort), ...(definition.variables ?? {}) };
  const parsed = parseVariables(shape, env);
  const vars = parsed as z.output<z.ZodObject<ReturnType<typeof serviceVariables>>>;
  const production = vars.NODE_ENV === "production";
  const keys = resolveIdentityKeys(
    { privateKey: vars.IDENTITY_PRIVATE_KEY, publicKeys: vars.IDENTITY_PUBLIC_KEYS },
    {
      production,
      host: vars.HOST,
      issuer: definition.signs ? definition.name : null,
      trusts: [GATEWAY_ISSUER, ...(definition.peers ?? [])],
    },
  );
  if ("error" in keys) throw new ConfigError(keys.error);
  const base: ServiceConfig = {
    name: definition.name,
    port: vars.PORT,
    host: vars.HOST,
    databasePath: vars.DATABASE_PATH ?? resolve(vars.DATA_DIR, `${definition.name}.db`),
    ...(vars.DATABASE_URL !== undefined && { databaseUrl: vars.DATABASE_URL }),
    databaseSchemaPrefix: vars.DATABASE_SCHEMA_PREFIX,
    databasePoolSize: vars.DATABASE_POOL_SIZE,
    identityKeys: keys.keys,
    production,
    logLevel: vars.LOG_LEVEL,
    otlpTracesUrl: tracesUrl(vars),
  };
  const own = definition.settings?.(parsed as unknown as z.output<z.ZodObject<S>>, base) ?? ({} as C);
  return Object.freeze({ ...base, ...own });
}
