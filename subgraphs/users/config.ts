import { ConfigError, readServiceConfig, type ServiceConfig } from "../shared/config.ts";
import { type OAuthConfig, readOAuthConfig } from "./oauth-config.ts";
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER, DEFAULT_TOKEN_TTL_SECONDS } from "./server.ts";

export const DEFAULT_PORT = 4001;
/** A day: longer-lived access tokens should be a deliberate code change, not a typo in the environment. */
const MAX_TTL_SECONDS = 86_400;

export interface UsersConfig extends ServiceConfig {
  /** TOKEN_ISSUER. @default "urn:shop:users" */
  readonly tokenIssuer: string;
  /** TOKEN_AUDIENCE. @default "urn:shop:api" */
  readonly tokenAudience: string;
  /** TOKEN_TTL_SECONDS. @default 3600 */
  readonly tokenTtlSeconds: number;
  /** OAUTH_CLIENTS, OAUTH_INTROSPECTION_CLIENT_ID/_SECRET, OAUTH_TOKEN_TTL_SECONDS (see oauth-config.ts). */
  readonly oauth: OAuthConfig;
}

function readClaimValue(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/[\s\p{Cc}]/u.test(raw) || raw.length > 512) {
    throw new ConfigError(`${name} must be a single token without spaces (at most 512 characters), got "${raw}"`);
  }
  return raw;
}

function readTtl(env: NodeJS.ProcessEnv): number {
  const raw = env.TOKEN_TTL_SECONDS;
  if (raw === undefined || raw === "") return DEFAULT_TOKEN_TTL_SECONDS;
  const ttl = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new ConfigError(
      `TOKEN_TTL_SECONDS must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}, got "${raw}"`,
    );
  }
  return ttl;
}

/** Everything the users service reads from the environment, validated once and frozen. */
export function readUsersConfig(env = process.env): UsersConfig {
  return Object.freeze({
    ...readServiceConfig("users", DEFAULT_PORT, env),
    tokenIssuer: readClaimValue(env, "TOKEN_ISSUER", DEFAULT_TOKEN_ISSUER),
    tokenAudience: readClaimValue(env, "TOKEN_AUDIENCE", DEFAULT_TOKEN_AUDIENCE),
    tokenTtlSeconds: readTtl(env),
    oauth: readOAuthConfig(env),
  });
}
