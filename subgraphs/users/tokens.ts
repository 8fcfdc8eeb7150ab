import { randomUUID } from "node:crypto";
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import type { SigningKeyRecord, SigningKeyRepository } from "./repository.ts";

const ALG = "ES256";

/** A public key as published in the JWKS: only public members, by construction. */
export interface PublicJwk {
  kid: string;
  alg: string;
  use: "sig";
  kty: string;
  crv: string;
  x: string;
  y: string;
}

export interface TokenIssuerOptions {
  keys: SigningKeyRepository;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface TokenSubject {
  id: string;
  /** Space-separated scopes. */
  scope: string;
}

export interface TokenIssuer {
  /** Signs an access token for the user with the current signing key. */
  issue(subject: TokenSubject): Promise<string>;
  /** All keys a verifier should accept: every key that is not retired. */
  jwks(): Promise<{ keys: PublicJwk[] }>;
  /** Makes a new key the signing key; earlier keys stay published so tokens already issued keep verifying. */
  rotate(): Promise<string>;
}

interface ActiveKey {
  kid: string;
  privateKey: CryptoKey;
}

async function generateKey(keys: SigningKeyRepository): Promise<ActiveKey> {
  const pair = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  const privateJwk = await exportJWK(pair.privateKey);
  // The thumbprint makes the kid stable and derivable from the key itself (RFC 7638).
  const kid = await calculateJwkThumbprint(publicJwk);
  await keys.insert({
    kid,
    alg: ALG,
    privateJwk: JSON.stringify(privateJwk),
    publicJwk: JSON.stringify(publicJwk),
  });
  return { kid, privateKey: pair.privateKey };
}

async function loadKey(record: SigningKeyRecord): Promise<ActiveKey> {
  const privateKey = (await importJWK(JSON.parse(record.privateJwk) as JWK, record.alg)) as CryptoKey;
  return { kid: record.kid, privateKey };
}

function toPublicJwk(record: SigningKeyRecord): PublicJwk {
  const jwk = JSON.parse(record.publicJwk) as JWK;
  // Copy named members only, so a private member stored by mistake could never be published.
  return {
    kid: record.kid,
    alg: record.alg,
    use: "sig",
    kty: String(jwk.kty),
    crv: String(jwk.crv),
    x: String(jwk.x),
    y: String(jwk.y),
  };
}

/**
 * Loads the newest non-retired signing key, creating one when there is none. After creating, it
 * re-reads the newest key so that instances starting together on one database settle on one key.
 */
export async function createTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const { keys } = options;
  let stored = await keys.newestActive();
  if (!stored) {
    await generateKey(keys);
    stored = await keys.newestActive();
  }
  let current = await loadKey(stored!);

  return {
    async issue(subject) {
      return new SignJWT({ scope: subject.scope })
        .setProtectedHeader({ alg: ALG, kid: current.kid, typ: "JWT" })
        .setSubject(subject.id)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(current.privateKey);
    },
    async jwks() {
      return { keys: (await keys.listActive()).map(toPublicJwk) };
    },
    async rotate() {
      current = await generateKey(keys);
      return current.kid;
    },
  };
}
