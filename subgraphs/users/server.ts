import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import type { Database } from "../shared/db.ts";
import { createLoaders, type UsersLoaders } from "./loaders.ts";
import { migrations, type UsersTables } from "./migrations.ts";
import { createOAuthServer, type OAuthClientConfig } from "./oauth.ts";
import { SqlOAuthRepository } from "./oauth-repository.ts";
import { oauthRoutes } from "./oauth-routes.ts";
import { SqlSigningKeyRepository, SqlUsersRepository } from "./repository.ts";
import { createResolvers } from "./resolvers.ts";
import { seedUsers } from "./seed.ts";
import { createTokenIssuer } from "./tokens.ts";

export const DEFAULT_TOKEN_ISSUER = "urn:shop:users";
export const DEFAULT_TOKEN_AUDIENCE = "urn:shop:api";
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** Path of the published signing keys; the gateway's JWKS_URL points here. */
export const JWKS_PATH = "/.well-known/jwks.json";

export interface UsersServiceOptions extends ServiceOptions {
  /** Inserts the missing development accounts (alice, bob, admin) at start. @default true */
  seed?: boolean;
  /** `iss` of issued tokens. @default "urn:shop:users" */
  tokenIssuer?: string;
  /** `aud` of issued tokens. @default "urn:shop:api" */
  tokenAudience?: string;
  /** Lifetime of issued tokens, in seconds. @default 3600 */
  tokenTtlSeconds?: number;
  /**
   * Machine clients of the OAuth client-credentials grant (`/oauth/token`, `/oauth/introspect`);
   * with `seed`, the demo client `reporting-client` is added. Clients not listed are deleted at start.
   * @default []
   */
  oauthClients?: readonly OAuthClientConfig[];
  /** Lifetime of opaque OAuth access tokens, in seconds, for clients without their own. @default 3600 */
  oauthTokenTtlSeconds?: number;
}

export type UsersService = SubgraphService & {
  /** Makes a fresh key the signing key and returns its kid; earlier keys stay published. */
  rotateSigningKey(): Promise<string>;
  /** The service's database, exposed for tests (query counts, row counts). */
  readonly db: Database<UsersTables>;
};

function checkOptions(options: UsersServiceOptions): void {
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) {
    throw new TypeError(`tokenTtlSeconds must be a positive whole number of seconds, got ${ttl}`);
  }
  if (options.tokenIssuer === "") throw new TypeError("tokenIssuer must not be empty");
  if (options.tokenAudience === "") throw new TypeError("tokenAudience must not be empty");
}

/** Builds (without listening) the users subgraph: accounts, passwords, token issuing and the JWKS. */
export async function createUsersService(options: UsersServiceOptions): Promise<UsersService> {
  checkOptions(options);
  const db = await openDatabase<UsersTables>("users", options, migrations);
  return buildOrRelease(
    () => db.close(),
    async () => {
      const users = new SqlUsersRepository(db);
      // Independent tables, and the seeding and client set-up wait mostly on scrypt: side by side.
      const seeding = (options.seed ?? true) ? seedUsers(users) : null;
      const issuing = createTokenIssuer({
        keys: new SqlSigningKeyRepository(db),
        issuer: options.tokenIssuer ?? DEFAULT_TOKEN_ISSUER,
        audience: options.tokenAudience ?? DEFAULT_TOKEN_AUDIENCE,
        ttlSeconds: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
      });
      const authorizing = createOAuthServer({
        repository: new SqlOAuthRepository(db),
        clients: options.oauthClients ?? [],
        seedDemoClient: options.seed ?? true,
        ...(options.oauthTokenTtlSeconds !== undefined && { tokenTtlSeconds: options.oauthTokenTtlSeconds }),
        issuer: options.tokenIssuer ?? DEFAULT_TOKEN_ISSUER,
        audience: options.tokenAudience ?? DEFAULT_TOKEN_AUDIENCE,
      });
      // Every one finished before a failure of one closes the database under the others.
      await Promise.allSettled([seeding, issuing, authorizing]);
      await seeding;
      const tokens = await issuing;
      const oauth = await authorizing;

      const service = await createSubgraphService<UsersLoaders>({
        ...options,
        name: "users",
        typeDefs: loadTypeDefs(import.meta.url),
        resolvers: createResolvers({ users, tokens }),
        createLoaders: () => createLoaders(users),
        routes: async (app) => {
          // Read from the database on every request, so a key rotated by another instance sharing
          // the database is published at once; the Cache-Control lets verifiers avoid asking often.
          app.get(JWKS_PATH, async (_request, reply) => {
            reply.header("cache-control", "public, max-age=300");
            return tokens.jwks();
          });
          // The authorization server for machine clients: opaque tokens the gateway introspects.
          await app.register(oauthRoutes, { oauth, ...(options.logger && { log: options.logger }) });
        },
        onClose: () => db.close(),
      });

      return {
        ...service,
        rotateSigningKey: () => tokens.rotate(),
        db,
      };
    },
  );
}
