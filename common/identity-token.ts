import { jwtVerify, SignJWT } from "jose";

/** The header that carries the signed identity from the gateway, or a peer service, to a subgraph. */
export const IDENTITY_HEADER = "x-identity-token";
/** `aud` of every identity token: only subgraphs accept one. */
export const IDENTITY_AUDIENCE = "subgraphs";
/** How long a signed identity is valid. Short, because it is signed per request and never stored. */
export const IDENTITY_TTL_SECONDS = 60;
/** `iss` of the tokens the gateway signs. */
export const GATEWAY_ISSUER = "gateway";
/** A token older than this (by `iat`) is refused whatever its `exp` says. */
const MAX_AGE_SECONDS = IDENTITY_TTL_SECONDS + 30;
const CLOCK_TOLERANCE_SECONDS = 5;
/** Real identity tokens are a few hundred bytes; anything far larger is refused unparsed. */
const MAX_TOKEN_LENGTH = 4096;

/** Who a subgraph request is for, as the gateway (or a peer service) vouched for it. */
export interface IdentityClaims {
  /** The end user (`sub`), when a user is signed in. */
  readonly userId: string | null;
  /** Granted scopes (`scope`, space-separated on the wire). */
  readonly scopes: ReadonlySet<string>;
  /** An OAuth client acting for itself (`client_id`), when there is one. */
  readonly clientId: string | null;
  /** A peer service calling on its own behalf (`service`), for example orders reserving stock. */
  readonly service: string | null;
}

/** What may be signed: any part of an identity; the gateway's caller identity fits as it is. */
export type SignableIdentity = { readonly [K in keyof IdentityClaims]?: IdentityClaims[K] | undefined };

/** The shared secret as a string (as configured) or as its UTF-8 bytes. */
export type IdentitySecret = string | Uint8Array;

/** The identity header was present but cannot be trusted. */
export class InvalidIdentityTokenError extends Error {
  override name = "InvalidIdentityTokenError";
}

const keyOf = (secret: IdentitySecret): Uint8Array =>
  typeof secret === "string" ? new TextEncoder().encode(secret) : secret;

/**
 * Signs a short-lived identity token: HS256 over the shared internal secret, `aud` "subgraphs",
 * `typ` JWT, `iat` and an `exp` IDENTITY_TTL_SECONDS later.
 * @param issuer `iss`; @default "gateway"
 */
export async function signIdentity(
  identity: SignableIdentity,
  secret: IdentitySecret,
  issuer: string = GATEWAY_ISSUER,
): Promise<string> {
  const claims: Record<string, unknown> = { scope: [...(identity.scopes ?? [])].join(" ") };
  if (identity.clientId) claims.client_id = identity.clientId;
  if (identity.service) claims.service = identity.service;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(issuer)
    .setAudience(IDENTITY_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TTL_SECONDS}s`);
  if (identity.userId) jwt.setSubject(identity.userId);
  return jwt.sign(keyOf(secret));
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

/**
 * Verifies an identity token and returns what it vouches for. Refused (InvalidIdentityTokenError):
 * any algorithm but HS256, a `typ` other than JWT, a missing `exp`/`iat`/`iss`, another audience,
 * an expired token or one issued more than 90 s ago, claims of the wrong type, a token over 4 KiB.
 */
export async function verifyIdentityToken(token: string, secret: IdentitySecret): Promise<IdentityClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidIdentityTokenError("Identity token too long");
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ["HS256"],
      typ: "JWT",
      audience: IDENTITY_AUDIENCE,
      requiredClaims: ["exp", "iat", "iss"],
      maxTokenAge: `${MAX_AGE_SECONDS}s`,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch {
    throw new InvalidIdentityTokenError("Invalid identity token");
  }
  const scope = optionalString(payload, "scope", true) ?? "";
  return Object.freeze({
    userId: optionalString(payload, "sub"),
    scopes: new Set(scope.split(" ").filter(Boolean)),
    clientId: optionalString(payload, "client_id"),
    service: optionalString(payload, "service"),
  });
}
