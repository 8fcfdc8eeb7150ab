import {
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

/**
 * Reads the identity header. No header is an anonymous caller; a header that does not verify
 * is refused outright (UNAUTHENTICATED), so hand-made identity headers get nothing.
 */
export async function verifyIdentity(
  header: string | string[] | undefined,
  verification: IdentityVerification,
): Promise<Identity> {
  if (header === undefined || header === "") return ANONYMOUS;
  if (Array.isArray(header)) throw unauthenticated("Ambiguous identity");
  try {
    return await verifyIdentityToken(header, verification);
  } catch (error) {
    if (error instanceof InvalidIdentityTokenError) throw unauthenticated("Invalid identity token");
    throw error;
  }
}
