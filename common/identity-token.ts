import type { KeyObject } from "node:crypto";
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { algorithmOf, type IdentitySigningKey } from "./identity-keys.ts";

/** The header that carries the signed identity from the gateway, or a peer service, to a subgraph. */
export const IDENTITY_HEADER = "x-identity-token";
/** How long a signed identity is valid. Short, because it is signed per request and never stored. */
export const IDENTITY_TTL_SECONDS = 60;
/** `iss` of the tokens the gateway signs; a peer service signs as its own name. */
export const GATEWAY_ISSUER = "gateway";
/** The only scope a peer service's identity may carry: a peer never acts as a user. */
export const PEER_SCOPE = "internal";
/** A token older than this (by `iat`) is refused whatever its `exp` says. */
const MAX_AGE_SECONDS = IDENTITY_TTL_SECONDS + 30;
const CLOCK_TOLERANCE_SECONDS = 5;
/** Real identity tokens are a few hundred bytes; anything far larger is refused unparsed. */
const MAX_TOKEN_LENGTH = 4096;

/** `aud` of an identity token for one subgraph: each subgraph accepts only its own. */
export const identityAudience = (subgraph: string): string => `subgraph:${subgraph}`;

/** Who a subgraph request is for, as the gateway (or a peer service) vouched for it. */
export interface IdentityClaims {
  /** The end user (`sub`), when a user is signed in. */
  readonly userId: string | null;
  /** Granted scopes (`scope`, space-separated on the wire). */
  readonly scopes: ReadonlySet<string>;
  /** An OAuth client acting for itself (`client_id`), when there is one. */
  readonly clientId: string | null;
  /** A peer service calling on its own behalf (`service`, equal to the token's `iss`), for example orders reserving stock. */
  readonly service: string | null;
}

/** What may be signed: any part of an identity; the gateway's caller identity fits as it is. */
export type SignableIdentity = { readonly [K in keyof IdentityClaims]?: IdentityClaims[K] | undefined };

/** The identity header was present but cannot be trusted. */
export class InvalidIdentityTokenError extends Error {
  override name = "InvalidIdentityTokenError";
}

/**
 * Signs a short-lived identity token for one subgraph with the signer's private key (EdDSA or
 * ES256), `kid` and `iss` the signer's issuer, `aud` `subgraph:<name>`, `typ` JWT, `iat` and an
 * `exp` IDENTITY_TTL_SECONDS later. The gateway signs callers' identities; a peer service signs
 * only itself (`service` = its issuer, scope `internal`), whatever it is asked to sign.
 */
export async function signIdentity(
  identity: SignableIdentity,
  signer: IdentitySigningKey,
  subgraph: string,
): Promise<string> {
  const peer = signer.issuer !== GATEWAY_ISSUER;
  const claims: Record<string, unknown> = peer
    ? { scope: PEER_SCOPE, service: signer.issuer }
    : { scope: [...(identity.scopes ?? [])].join(" ") };
  if (!peer && identity.clientId) claims.client_id = identity.clientId;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: algorithmOf(signer.privateKey), typ: "JWT", kid: signer.issuer })
    .setIssuer(signer.issuer)
    .setAudience(identityAudience(subgraph))
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TTL_SECONDS}s`);
  if (!peer && identity.userId) jwt.setSubject(identity.userId);
  return jwt.sign(signer.privateKey);
}

/** A claim of the wrong type is not read as absent: the token was not made by our signer. */
function optionalString(payload: Record<string, unknown>, claim: string, allowEmpty = false): string | null {
  const value = payload[claim];
  if (value === undefined) return null;
  if (typeof value !== "string" || (value === "" && !allowEmpty)) {
    throw new InvalidIdentityTokenError(`Malformed ${claim} claim`);
  }
  return value;
}

/** What a subgraph checks an identity token against. */
export interface IdentityVerification {
  /** The subgraph's own name: only tokens with `aud` `subgraph:<name>` are accepted. */
  readonly subgraph: string;
  /** Public keys by issuer: `gateway`, and each peer service allowed to call this subgraph. */
  readonly trusted: ReadonlyMap<string, KeyObject>;
}

/**
 * Verifies an identity token and returns what it vouches for. The key is chosen by `kid`, which
 * must equal `iss`, so a token verifies only with the key of the issuer it names. Refused
 * (InvalidIdentityTokenError): an unknown issuer, an algorithm other than the key's, a `typ` other
 * than JWT, a missing `exp`/`iat`/`iss`, another subgraph's audience, an expired token or one issued
 * more than 90 s ago, claims of the wrong type, a token over 4 KiB; a gateway token naming a
 * `service`; a peer token whose `service` is not its issuer, or that names a user, a client or any
 * scope but `internal`.
 */
export async function verifyIdentityToken(token: string, verification: IdentityVerification): Promise<IdentityClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidIdentityTokenError("Identity token too long");
  let payload: Record<string, unknown>;
  let issuer: string;
  try {
    const { kid } = decodeProtectedHeader(token);
    const key = typeof kid === "string" ? verification.trusted.get(kid) : undefined;
    if (!key) throw new Error("unknown issuer");
    issuer = kid as string;
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [algorithmOf(key)],
      typ: "JWT",
      issuer,
      audience: identityAudience(verification.subgraph),
      requiredClaims: ["exp", "iat", "iss", "aud"],
      maxTokenAge: `${MAX_AGE_SECONDS}s`,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch {
    throw new InvalidIdentityTokenError("Invalid identity token");
  }
  const scope = optionalString(payload, "scope", true) ?? "";
  const claims = Object.freeze({
    userId: optionalString(payload, "sub"),
    scopes: new Set(scope.split(" ").filter(Boolean)),
    clientId: optionalString(payload, "client_id"),
    service: optionalString(payload, "service"),
  });
  if (issuer === GATEWAY_ISSUER) {
    if (claims.service !== null) throw new InvalidIdentityTokenError("The gateway never vouches for a service");
    return claims;
  }
  // A peer's key vouches for that peer alone, never for a user, a client or a user's scopes.
  const onlyPeerScope = [...claims.scopes].every((s) => s === PEER_SCOPE);
  if (claims.service !== issuer || claims.userId !== null || claims.clientId !== null || !onlyPeerScope) {
    throw new InvalidIdentityTokenError("A peer identity vouches only for its own service");
  }
  return claims;
}
