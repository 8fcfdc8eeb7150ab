import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { OAuthClientRecord, OAuthRepository } from "./oauth-repository.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "./password.ts";

export const DEFAULT_OAUTH_TOKEN_TTL_SECONDS = 3600;
/** A day, like user tokens: longer-lived machine tokens should be a deliberate code change. */
export const MAX_OAUTH_TOKEN_TTL_SECONDS = 86_400;
export const MIN_CLIENT_SECRET_LENGTH = 16;
const MAX_CLIENT_SECRET_LENGTH = 512;
/** Our tokens are 43 characters; anything far longer is not one of ours and is not hashed or looked up. */
const MAX_TOKEN_LENGTH = 512;
/** Verified client credentials skip scrypt this long, so a busy introspecting gateway costs one hash, not one per call. */
const VERIFIED_CREDENTIALS_MS = 5 * 60_000;
const VERIFIED_CREDENTIALS_MAX = 1000;
/** Expired tokens are kept a while for the logs' sake, then deleted. */
const EXPIRED_TOKEN_RETENTION_SECONDS = 3600;

/** A machine client as configured (OAUTH_CLIENTS, the introspection client, the demo client). */
export interface OAuthClientConfig {
  /** The `client_id`: letters, digits and `._~-`, at most 128 characters. */
  readonly id: string;
  /** At least 16 characters; stored only as a scrypt hash. */
  readonly secret: string;
  /** Space-separated scopes the client may be granted; may be empty. */
  readonly scope: string;
  /** May call the introspection endpoint. @default false */
  readonly introspect?: boolean;
  /** Lifetime of this client's tokens. @default the service's token lifetime */
  readonly tokenTtlSeconds?: number;
}

/**
 * Development data only (seeded outside production, like the alice/bob/admin accounts): a machine
 * client for trying the client-credentials flow against the local stack.
 */
export const DEMO_OAUTH_CLIENT: OAuthClientConfig = Object.freeze({
  id: "reporting-client",
  secret: "reporting-client-secret",
  scope: "catalog:read orders:read",
});

/** The error codes of RFC 6749 §5.2 (and RFC 7009) this server answers with. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope";

/** A refusal as RFC 6749 §5.2 describes it: an error code, its HTTP status and a description. */
export class OAuthError extends Error {
  override name = "OAuthError";
  constructor(
    readonly error: OAuthErrorCode,
    readonly status: number,
    description: string,
  ) {
    super(description);
  }
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Unreserved characters only: no `:` (Basic credentials split on it) and nothing that needs encoding. */
const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** The scope tokens of a space-separated scope (RFC 6749 §3.3), or null when one is malformed. */
export function parseScope(scope: string): string[] | null {
  const tokens = scope.split(" ").filter((token) => token !== "");
  return tokens.every((token) => SCOPE_TOKEN.test(token)) ? [...new Set(tokens)] : null;
}

/** Checks one configured client; the TypeError's message says what is wrong with it. */
export function validateClientConfig(value: unknown, index: number): OAuthClientConfig {
  const where = `client ${index + 1}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be an object with id, secret and scope`);
  }
  const { id, secret, scope, introspect, tokenTtlSeconds, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new TypeError(`${where} has unknown field(s) ${unknown.join(", ")}`);
  if (typeof id !== "string" || !CLIENT_ID.test(id)) {
    throw new TypeError(`${where}: id must be 1-128 characters of letters, digits and ._~-`);
  }
  if (
    typeof secret !== "string" ||
    secret.length < MIN_CLIENT_SECRET_LENGTH ||
    secret.length > MAX_CLIENT_SECRET_LENGTH
  ) {
    throw new TypeError(
      `client "${id}": secret must be a string of ${MIN_CLIENT_SECRET_LENGTH} to ${MAX_CLIENT_SECRET_LENGTH} characters`,
    );
  }
  const scopes = typeof scope === "string" ? parseScope(scope) : null;
  if (scopes === null) throw new TypeError(`client "${id}": scope must be a space-separated list of scope tokens`);
  if (introspect !== undefined && typeof introspect !== "boolean") {
    throw new TypeError(`client "${id}": introspect must be true or false`);
  }
  if (
    tokenTtlSeconds !== undefined &&
    (typeof tokenTtlSeconds !== "number" ||
      !Number.isInteger(tokenTtlSeconds) ||
      tokenTtlSeconds < 1 ||
      tokenTtlSeconds > MAX_OAUTH_TOKEN_TTL_SECONDS)
  ) {
    throw new TypeError(
      `client "${id}": tokenTtlSeconds must be a whole number from 1 to ${MAX_OAUTH_TOKEN_TTL_SECONDS}`,
    );
  }
  return Object.freeze({
    id,
    secret,
    scope: scopes.join(" "),
    ...(introspect !== undefined && { introspect }),
    ...(tokenTtlSeconds !== undefined && { tokenTtlSeconds: tokenTtlSeconds as number }),
  });
}

export interface ClientCredentials {
  clientId: string;
  secret: string;
}

export interface IssuedToken {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

/** An introspection answer (RFC 7662 §2.2). */
export type IntrospectionAnswer =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      token_type: "Bearer";
      exp: number;
      iat: number;
      iss: string;
      aud: string;
    };

export interface OAuthServer {
  /** The client these credentials belong to; OAuthError invalid_client otherwise. */
  authenticate(credentials: ClientCredentials | null): Promise<OAuthClientRecord>;
  /** Client-credentials grant: a fresh opaque token for `scope` (a subset of the client's) or all its scopes. */
  issue(client: OAuthClientRecord, scope: string | undefined): Promise<IssuedToken>;
  /** Introspection on behalf of `caller`, which must be allowed to introspect. */
  introspect(caller: OAuthClientRecord, token: string): Promise<IntrospectionAnswer>;
  /** RFC 7009: revokes the client's own token; unknown tokens are fine, another client's are refused. */
  revoke(client: OAuthClientRecord, token: string): Promise<void>;
}

export interface OAuthServerOptions {
  repository: OAuthRepository;
  /** Clients from the environment; they replace the stored clients of the same id. @default [] */
  clients?: readonly OAuthClientConfig[];
  /** Inserts DEMO_OAUTH_CLIENT when missing (development only). @default false */
  seedDemoClient?: boolean;
  /** Lifetime of tokens of clients without their own. @default 3600 */
  tokenTtlSeconds?: number;
  /** `iss` of introspection answers. */
  issuer: string;
  /** `aud` of introspection answers. */
  audience: string;
  /** Unix seconds. @default the system clock */
  now?: () => number;
}

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

async function storedClient(client: OAuthClientConfig, existing: OAuthClientRecord | null) {
  const record = {
    clientId: client.id,
    scope: client.scope,
    canIntrospect: client.introspect ?? false,
    tokenTtlSeconds: client.tokenTtlSeconds ?? null,
  };
  const unchanged =
    existing !== null &&
    existing.scope === record.scope &&
    existing.canIntrospect === record.canIntrospect &&
    existing.tokenTtlSeconds === record.tokenTtlSeconds &&
    (await verifyPassword(client.secret, existing.secretHash));
  return unchanged ? null : { ...record, secretHash: await hashPassword(client.secret) };
}

/**
 * The users service as an OAuth 2.0 authorization server for machine clients: the
 * client-credentials grant, introspection and revocation of opaque tokens. The environment is
 * the source of truth for clients: at start-up the configured clients (and, in development, the
 * demo client) are stored and every other client is deleted along with its tokens.
 */
export async function createOAuthServer(options: OAuthServerOptions): Promise<OAuthServer> {
  const { repository, issuer, audience } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const defaultTtl = options.tokenTtlSeconds ?? DEFAULT_OAUTH_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(defaultTtl) || defaultTtl < 1 || defaultTtl > MAX_OAUTH_TOKEN_TTL_SECONDS) {
    throw new TypeError(`tokenTtlSeconds must be a whole number from 1 to ${MAX_OAUTH_TOKEN_TTL_SECONDS}`);
  }
  const clients = (options.clients ?? []).map((client, index) => validateClientConfig(client, index));
  const ids = new Set<string>();
  for (const client of clients) {
    if (ids.has(client.id)) throw new TypeError(`client "${client.id}" is configured twice`);
    ids.add(client.id);
  }

  // Checking and hashing secrets is scrypt on libuv's pool: every client's side by side, not in
  // turn, and all of them finished before a failure of one is reported.
  const seedDemo = options.seedDemoClient === true && !ids.has(DEMO_OAUTH_CLIENT.id);
  const stored = await Promise.allSettled([
    ...clients.map(async (client) => {
      const changed = await storedClient(client, await repository.findClient(client.id));
      if (changed) await repository.upsertClient(changed);
    }),
    seedDemo &&
      (async () => {
        if (!(await repository.findClient(DEMO_OAUTH_CLIENT.id))) {
          await repository.insertClientIfMissing((await storedClient(DEMO_OAUTH_CLIENT, null))!);
        }
      })(),
  ]);
  for (const outcome of stored) if (outcome.status === "rejected") throw outcome.reason;
  if (seedDemo) ids.add(DEMO_OAUTH_CLIENT.id);
  await repository.deleteClientsExcept([...ids]);

  // Per instance, not per request: which credentials already passed scrypt, tied to the hash they
  // matched so that a changed secret is checked again.
  const verified = new LRUCache<string, string>({ max: VERIFIED_CREDENTIALS_MAX, ttl: VERIFIED_CREDENTIALS_MS });
  let lastSweep = 0;

  async function authenticate(credentials: ClientCredentials | null): Promise<OAuthClientRecord> {
    const refused = () => new OAuthError("invalid_client", 401, "Client authentication failed");
    if (credentials === null) throw refused();
    const client =
      credentials.clientId.length <= 128 && credentials.secret.length <= MAX_CLIENT_SECRET_LENGTH
        ? await repository.findClient(credentials.clientId)
        : null;
    const key = createHash("sha256").update(`${credentials.clientId}\u0000${credentials.secret}`).digest("hex");
    const remembered = verified.get(key);
    if (client && remembered === client.secretHash) {
      return client;
    }
    // An unknown client costs the same scrypt as a wrong secret.
    const ok = await verifyPassword(
      credentials.secret.slice(0, MAX_CLIENT_SECRET_LENGTH),
      client?.secretHash ?? DUMMY_PASSWORD_HASH,
    );
    if (!client || !ok) throw refused();
    verified.set(key, client.secretHash);
    return client;
  }

  async function issue(client: OAuthClientRecord, requested: string | undefined): Promise<IssuedToken> {
    const allowed = new Set(parseScope(client.scope) ?? []);
    let granted = [...allowed];
    if (requested !== undefined && requested.trim() !== "") {
      const scopes = parseScope(requested);
      if (scopes === null) throw new OAuthError("invalid_scope", 400, "scope is malformed");
      if (scopes.some((scope) => !allowed.has(scope))) {
        throw new OAuthError("invalid_scope", 400, "scope exceeds what this client may be granted");
      }
      granted = scopes;
    }
    const token = randomBytes(32).toString("base64url");
    const issuedAt = now();
    const ttl = client.tokenTtlSeconds ?? defaultTtl;
    await repository.insertToken({
      tokenHash: hashToken(token),
      clientId: client.clientId,
      scope: granted.join(" "),
      issuedAt,
      expiresAt: issuedAt + ttl,
    });
    if (issuedAt - lastSweep >= 60) {
      lastSweep = issuedAt;
      await repository.deleteExpiredTokens(issuedAt - EXPIRED_TOKEN_RETENTION_SECONDS);
    }
    return { access_token: token, token_type: "Bearer", expires_in: ttl, scope: granted.join(" ") };
  }

  async function introspect(caller: OAuthClientRecord, token: string): Promise<IntrospectionAnswer> {
    if (!caller.canIntrospect)
      throw new OAuthError("unauthorized_client", 403, "This client may not introspect tokens");
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { active: false };
    const record = await repository.findToken(hashToken(token));
    if (!record || record.revokedAt !== null || record.expiresAt <= now()) return { active: false };
    // No `sub`: a client-credentials token has no user, and a resource server must not mistake the
    // client for one.
    return {
      active: true,
      scope: record.scope,
      client_id: record.clientId,
      token_type: "Bearer",
      exp: record.expiresAt,
      iat: record.issuedAt,
      iss: issuer,
      aud: audience,
    };
  }

  async function revoke(client: OAuthClientRecord, token: string): Promise<void> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return;
    const tokenHash = hashToken(token);
    if (await repository.revokeToken(tokenHash, client.clientId, new Date().toISOString())) return;
    const record = await repository.findToken(tokenHash);
    if (record && record.clientId !== client.clientId) {
      throw new OAuthError("unauthorized_client", 400, "The token was issued to another client");
    }
  }

  return { authenticate, issue, introspect, revoke };
}
