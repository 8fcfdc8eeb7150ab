import { ConfigError } from "../shared/config.ts";
import {
  DEFAULT_OAUTH_TOKEN_TTL_SECONDS,
  MAX_OAUTH_TOKEN_TTL_SECONDS,
  type OAuthClientConfig,
  validateClientConfig,
} from "./oauth.ts";

/** The users service's OAuth settings, from the environment. */
export interface OAuthConfig {
  /** OAUTH_CLIENTS, plus the introspection client of OAUTH_INTROSPECTION_CLIENT_ID/_SECRET. @default [] */
  readonly clients: readonly OAuthClientConfig[];
  /** OAUTH_TOKEN_TTL_SECONDS. @default 3600 */
  readonly tokenTtlSeconds: number;
}

function parseClients(raw: string | undefined): OAuthClientConfig[] {
  if (raw === undefined || raw.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('OAUTH_CLIENTS must be a JSON array like [{"id":"…","secret":"…","scope":"…"}]');
  }
  if (!Array.isArray(parsed)) throw new ConfigError("OAUTH_CLIENTS must be a JSON array of clients");
  try {
    return parsed.map((client, index) => validateClientConfig(client, index));
  } catch (error) {
    throw new ConfigError(`OAUTH_CLIENTS: ${(error as Error).message}`);
  }
}

function introspectionClient(env: NodeJS.ProcessEnv): OAuthClientConfig | null {
  const id = env.OAUTH_INTROSPECTION_CLIENT_ID || undefined;
  const secret = env.OAUTH_INTROSPECTION_CLIENT_SECRET || undefined;
  if (id === undefined && secret === undefined) return null;
  if (id === undefined || secret === undefined) {
    throw new ConfigError("OAUTH_INTROSPECTION_CLIENT_ID and OAUTH_INTROSPECTION_CLIENT_SECRET go together");
  }
  try {
    return validateClientConfig({ id, secret, scope: "", introspect: true }, 0);
  } catch (error) {
    throw new ConfigError(`OAUTH_INTROSPECTION_CLIENT_ID/_SECRET: ${(error as Error).message}`);
  }
}

/** Reads and validates the OAuth settings; a ConfigError names the bad variable. */
export function readOAuthConfig(env: NodeJS.ProcessEnv = process.env): OAuthConfig {
  const clients = parseClients(env.OAUTH_CLIENTS);
  const introspector = introspectionClient(env);
  if (introspector) {
    if (clients.some((client) => client.id === introspector.id)) {
      throw new ConfigError(`OAUTH_INTROSPECTION_CLIENT_ID "${introspector.id}" is also in OAUTH_CLIENTS`);
    }
    clients.push(introspector);
  }
  const seen = new Set<string>();
  for (const client of clients) {
    if (seen.has(client.id)) throw new ConfigError(`OAUTH_CLIENTS: client "${client.id}" is listed twice`);
    seen.add(client.id);
  }
  const rawTtl = env.OAUTH_TOKEN_TTL_SECONDS;
  let tokenTtlSeconds = DEFAULT_OAUTH_TOKEN_TTL_SECONDS;
  if (rawTtl !== undefined && rawTtl !== "") {
    tokenTtlSeconds = Number(rawTtl);
    if (!/^\d+$/.test(rawTtl) || tokenTtlSeconds < 1 || tokenTtlSeconds > MAX_OAUTH_TOKEN_TTL_SECONDS) {
      throw new ConfigError(
        `OAUTH_TOKEN_TTL_SECONDS must be a whole number of seconds from 1 to ${MAX_OAUTH_TOKEN_TTL_SECONDS}, got "${rawTtl}"`,
      );
    }
  }
  return Object.freeze({ clients: Object.freeze(clients), tokenTtlSeconds });
}
