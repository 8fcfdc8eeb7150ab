import { jwtVerify, SignJWT } from "jose";
import { forbidden, unauthenticated } from "./errors.ts";

/**
 * Who a request is for, as the gateway (or a peer service) vouched for it. Subgraphs never
 * read the client's own token: they trust only this signed identity.
 */
export interface Identity {
  /** The end user, when a user is signed in. */
  readonly userId: string | null;
  readonly scopes: ReadonlySet<string>;
  /** An OAuth client acting for itself (client-credentials grant), when there is one. */
  readonly clientId: string | null;
  /** A peer service calling on its own behalf (for example orders reserving stock). */
  readonly service: string | null;
}

/** Header that carries the signed identity from the gateway or a peer service. */
export const IDENTITY_HEADER = "x-identity-token";
const AUDIENCE = "subgraphs";
const TTL_SECONDS = 60;

export const ANONYMOUS: Identity = Object.freeze({
  userId: null,
  scopes: new Set<string>(),
  clientId: null,
  service: null,
});

export const isAdmin = (identity: Identity): boolean => identity.scopes.has("admin");
export const isService = (identity: Identity): boolean => identity.service !== null;

/** The signed-in user's id, or an UNAUTHENTICATED error. */
export function requireUser(identity: Identity): string {
  if (!identity.userId) throw unauthenticated();
  return identity.userId;
}

/** True when the identity may read data owned by `ownerId`: the owner, an admin or a peer service. */
export function canRead(identity: Identity, ownerId: string): boolean {
  return identity.userId === ownerId || isAdmin(identity) || isService(identity);
}

/**
 * Refuses a read of data owned by `ownerId`: an anonymous caller is asked to sign in
 * (UNAUTHENTICATED), a signed-in caller who is not the owner, an admin or a peer is FORBIDDEN.
 */
export function assertCanRead(identity: Identity, ownerId: string, message = "Not allowed"): void {
  if (canRead(identity, ownerId)) return;
  if (!identity.userId && !identity.clientId && !isService(identity)) throw unauthenticated();
  throw forbidden(message);
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Signs a short-lived identity token (HS256 over the shared internal secret). */
export async function signIdentity(identity: Partial<Identity>, secret: string, issuer: string): Promise<string> {
  const claims: Record<string, unknown> = { scope: [...(identity.scopes ?? [])].join(" ") };
  if (identity.clientId) claims.client_id = identity.clientId;
  if (identity.service) claims.service = identity.service;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(issuer)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${TTL_SECONDS}s`);
  if (identity.userId) jwt.setSubject(identity.userId);
  return jwt.sign(key(secret));
}

/**
 * Reads the identity header. No header is an anonymous caller; a header that does not verify
 * is refused outright, so hand-made identity headers get nothing.
 */
export async function verifyIdentity(header: string | string[] | undefined, secret: string): Promise<Identity> {
  if (header === undefined || header === "") return ANONYMOUS;
  if (Array.isArray(header)) throw unauthenticated("Ambiguous identity");
  try {
    const { payload } = await jwtVerify(header, key(secret), {
      algorithms: ["HS256"],
      audience: AUDIENCE,
      requiredClaims: ["exp", "iat", "iss"],
      maxTokenAge: `${TTL_SECONDS + 30}s`,
      clockTolerance: 5,
    });
    const scope = typeof payload.scope === "string" ? payload.scope : "";
    return Object.freeze({
      userId: payload.sub ?? null,
      scopes: new Set(scope.split(" ").filter(Boolean)),
      clientId: typeof payload.client_id === "string" ? payload.client_id : null,
      service: typeof payload.service === "string" ? payload.service : null,
    });
  } catch {
    throw unauthenticated("Invalid identity token");
  }
}
