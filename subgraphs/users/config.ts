import { defineService, readServiceConfig, type ServiceConfig, variable } from "../kit/config.ts";
import { type OAuthConfig, oauthSettings, oauthVariables } from "./oauth-config.ts";
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER, DEFAULT_TOKEN_TTL_SECONDS } from "./server.ts";

export const DEFAULT_PORT = 4001;
/** A day: longer-lived access tokens should be a deliberate code change, not a typo in the environment. */
const MAX_TTL_SECONDS = 86_400;

export interface UsersSettings {
  /** TOKEN_ISSUER. @default "urn:shop:users" */
  readonly tokenIssuer: string;
  /** TOKEN_AUDIENCE. @default "urn:shop:api" */
  readonly tokenAudience: string;
  /** TOKEN_TTL_SECONDS. @default 3600 */
  readonly tokenTtlSeconds: number;
  /** OAUTH_CLIENTS, OAUTH_INTROSPECTION_CLIENT_ID/_SECRET, OAUTH_TOKEN_TTL_SECONDS (see oauth-config.ts). */
  readonly oauth: OAuthConfig;
}

export type UsersConfig = Readonly<ServiceConfig & UsersSettings>;

/** The users service's configuration: the shared variables plus token and OAuth settings. */
export const usersService = defineService({
  name: "users",
  defaultPort: DEFAULT_PORT,
  variables: {
    TOKEN_ISSUER: variable.claim(DEFAULT_TOKEN_ISSUER),
    TOKEN_AUDIENCE: variable.claim(DEFAULT_TOKEN_AUDIENCE),
    TOKEN_TTL_SECONDS: variable.seconds(DEFAULT_TOKEN_TTL_SECONDS, MAX_TTL_SECONDS),
    ...oauthVariables,
  },
  settings: (vars): UsersSettings => ({
    tokenIssuer: vars.TOKEN_ISSUER,
    tokenAudience: vars.TOKEN_AUDIENCE,
    tokenTtlSeconds: vars.TOKEN_TTL_SECONDS,
    oauth: oauthSettings(vars),
  }),
});

/** Everything the users service reads from the environment, validated once and frozen. */
export function readUsersConfig(env: NodeJS.ProcessEnv = process.env): UsersConfig {
  return readServiceConfig(usersService, env);
}
