import { decodeJwt } from "jose";
import { LRUCache } from "lru-cache";
import {
  IDENTITY_TTL_SECONDS,
  type IdentityClaims,
  type IdentityVerification,
  InvalidIdentityTokenError,
  verifyIdentityToken,
} from "../../common/identity-token.ts";
import { forbidden, unauthenticated } from "../shared/errors.ts";

export { IDENTITY_HEADER, signIdentity } from "../../common/identity-token.ts";

/**
 * Who a request is for, as the gateway (or a peer service) vouched for it. Subgraphs never
 * read the client's own token: they trust only this signed identity.
 */
export type Identity = IdentityClaims;

export const ANONYMOUS: Identity = Object.freeze({
  userId: null,
  scopes: new Set<string>(),
  clientId: null,
  service: null,
});

export const isAdmin = (identity: Identity): boolean => identity.scopes.has("admin");
export const isService = (identity: Identity): boolean => identity.service !== null;
/**
 * True for the one peer service allowed an operation. Only peers whose key the service trusts get
 * here at all, and a peer's token vouches for nothing but itself.
 */
export const isPeer = (identity: Identity, service: string): boolean => identity.service === service;

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

/** Checks an identity header: the verified identity, or UNAUTHENTICATED. */
export type IdentityVerifier = (header: string | string[] | undefined) => Promise<Identity>;

/**
 * Reads the identity header. No header is an anonymous caller; a header that does not verify
 * is refused outright (UNAUTHENTICATED), so hand-made identity headers get nothing.
 *
 * The gateway reuses a token per caller for most of its minute, so a verified token is remembered
 * (by its exact text, at most `cacheSize` of them) until it expires: an asymmetric verification is
 * the largest per-request cost a subgraph would otherwise pay for identity.
 */
export function createIdentityVerifier(verification: IdentityVerification, cacheSize = 10_000): IdentityVerifier {
  const verified = new LRUCache<string, { identity: Identity; until: number }>({ max: cacheSize });
  return async (header) => {
    if (header === undefined || header === "") return ANONYMOUS;
    if (Array.isArray(header)) throw unauthenticated("Ambiguous identity");
    const cached = verified.get(header);
    if (cached && cached.until > Date.now()) return cached.identity;
    try {
      const identity = await verifyIdentityToken(header, verification);
      const { exp, iat } = decodeJwt(header);
      // Never past `exp`, nor past the age limit the verification itself applies.
      const until = Math.min(exp! * 1000, (iat! + IDENTITY_TTL_SECONDS + 30) * 1000);
      verified.set(header, { identity, until });
      return identity;
    } catch (error) {
      if (error instanceof InvalidIdentityTokenError) throw unauthenticated("Invalid identity token");
      throw error;
    }
  };
}

/** Verifies one identity header without remembering it (see createIdentityVerifier). */
export async function verifyIdentity(
  header: string | string[] | undefined,
  verification: IdentityVerification,
): Promise<Identity> {
  return createIdentityVerifier(verification, 1)(header);
}
