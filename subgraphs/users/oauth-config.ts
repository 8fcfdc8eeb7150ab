import { z } from "zod";
import { ConfigError, parseVariables, variable } from "../kit/config.ts";
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

const clientList = z
  .string()
  .optional()
  .transform((raw, ctx): OAuthClientConfig[] => {
    if (raw === undefined || raw.trim() === "") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      ctx.addIssue({ code: "custom", message: 'must be a JSON array like [{"id":"…","secret":"…","scope":"…"}]' });
      return z.NEVER;
    }
    if (!Array.isArray(parsed)) {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of clients" });
      return z.NEVER;
    }
    try {
      return parsed.map((client, index) => validateClientConfig(client, index));
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `is invalid: ${(error as Error).message}` });
      return z.NEVER;
    }
  });

/** The OAuth variables of the users service. */
export const oauthVariables = {
  OAUTH_CLIENTS: clientList,
  OAUTH_INTROSPECTION_CLIENT_ID: z.string().optional(),
  OAUTH_INTROSPECTION_CLIENT_SECRET: z.string().optional(),
  OAUTH_TOKEN_TTL_SECONDS: variable.seconds(DEFAULT_OAUTH_TOKEN_TTL_SECONDS, MAX_OAUTH_TOKEN_TTL_SECONDS),
};

/** The rules across the OAuth variables: the introspection client's pair, and no client twice. */
export function oauthSettings(vars: z.output<z.ZodObject<typeof oauthVariables>>): OAuthConfig {
  const clients = [...vars.OAUTH_CLIENTS];
  const id = vars.OAUTH_INTROSPECTION_CLIENT_ID;
  const secret = vars.OAUTH_INTROSPECTION_CLIENT_SECRET;
  if (id !== undefined || secret !== undefined) {
    if (id === undefined || secret === undefined) {
      throw new ConfigError("OAUTH_INTROSPECTION_CLIENT_ID and OAUTH_INTROSPECTION_CLIENT_SECRET go together");
    }
    let introspector: OAuthClientConfig;
    try {
      introspector = validateClientConfig({ id, secret, scope: "", introspect: true }, 0);
    } catch (error) {
      throw new ConfigError(`OAUTH_INTROSPECTION_CLIENT_ID/_SECRET: ${(error as Error).message}`);
    }
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
  return Object.freeze({ clients: Object.freeze(clients), tokenTtlSeconds: vars.OAUTH_TOKEN_TTL_SECONDS });
}

/** Reads and validates the OAuth settings alone; a ConfigError names the bad variable. */
export function readOAuthConfig(env: NodeJS.ProcessEnv = process.env): OAuthConfig {
  return oauthSettings(parseVariables(oauthVariables, env));
}
