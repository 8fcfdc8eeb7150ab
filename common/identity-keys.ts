import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

/** This process's own private key (PEM PKCS#8 or a JWK as JSON), signing the identities it sends. */
export const IDENTITY_PRIVATE_KEY_VARIABLE = "IDENTITY_PRIVATE_KEY";
/**
 * The public keys this process accepts identities from, by issuer: a JSON object such as
 * `{"gateway": <JWK or PEM>, "orders": <JWK or PEM>}`.
 */
export const IDENTITY_PUBLIC_KEYS_VARIABLE = "IDENTITY_PUBLIC_KEYS";

/** True for a host that only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** A key that signs identity tokens, and the `iss` (and `kid`) it signs them as. */
export interface IdentitySigningKey {
  readonly issuer: string;
  readonly privateKey: KeyObject;
}

/** The keys one process holds: its own signing key (if it signs) and the public keys it trusts, by issuer. */
export interface IdentityKeys {
  readonly signing: IdentitySigningKey | null;
  readonly trusted: ReadonlyMap<string, KeyObject>;
}

/** The JWS algorithm of a key: EdDSA for Ed25519, ES256 for P-256; any other key is refused. */
export function algorithmOf(key: KeyObject): "EdDSA" | "ES256" {
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  throw new Error("must be an Ed25519 or P-256 key");
}

function jwkOrPem(raw: string | object): { key: string } | { key: object; format: "jwk" } {
  if (typeof raw === "object") return { key: raw, format: "jwk" };
  const trimmed = raw.trim();
  return trimmed.startsWith("{") ? { key: JSON.parse(trimmed) as object, format: "jwk" } : { key: trimmed };
}

/** A private key from PEM (PKCS#8) or a JWK (object or JSON text). Throws on anything else. */
export function parsePrivateKey(raw: string | object): KeyObject {
  const key = createPrivateKey(jwkOrPem(raw) as Parameters<typeof createPrivateKey>[0]);
  algorithmOf(key);
  return key;
}

/** A public key from PEM (SPKI) or a public JWK (object or JSON text). A private key is refused. */
export function parsePublicKey(raw: string | object): KeyObject {
  const source = jwkOrPem(raw);
  if ("format" in source && "d" in source.key) throw new Error("is a private key; give the public key only");
  if (!("format" in source) && /PRIVATE KEY/.test(source.key)) {
    throw new Error("is a private key; give the public key only");
  }
  const key = createPublicKey(source as Parameters<typeof createPublicKey>[0]);
  algorithmOf(key);
  return key;
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * The development key of an issuer, derived from its name: anyone can compute it, so it is used only
 * outside production by a process listening on loopback, and every such process derives the same.
 */
export function developmentIdentityKey(issuer: string): KeyObject {
  const seed = createHash("sha256").update(`shop-gateway development identity key\0${issuer}`).digest();
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** A fresh Ed25519 key pair, as PEM, for launchers and tests. */
export function generateIdentityKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

export interface IdentityKeysOptions {
  /** NODE_ENV is "production". */
  production: boolean;
  /** The address the process listens on. */
  host: string;
  /** The issuer this process signs as (`gateway`, or a service's name); null when it signs nothing. */
  issuer: string | null;
  /** The issuers whose identities it accepts (`gateway`, and the peers allowed to call it). */
  trusts: readonly string[];
}

/** Why the development keys may not stand in here, or null when they may. */
function developmentRefusal(variable: string, options: IdentityKeysOptions): string | null {
  if (options.production) return `${variable} is required in production`;
  if (!isLoopbackHost(options.host)) return `${variable} is required when listening on ${options.host}, not loopback`;
  return null;
}

/**
 * The identity keys of one process, failing closed like the internal secret: when a variable is
 * missing, development keys stand in only outside production on a loopback address (anyone can
 * derive them); anywhere else the process must not start. Returns an error naming the variable
 * instead of keys when refused.
 */
export function resolveIdentityKeys(
  values: { privateKey: string | undefined; publicKeys: string | undefined },
  options: IdentityKeysOptions,
): { keys: IdentityKeys } | { error: string } {
  let signing: IdentitySigningKey | null = null;
  if (options.issuer !== null) {
    if (values.privateKey === undefined || values.privateKey.trim() === "") {
      const refusal = developmentRefusal(IDENTITY_PRIVATE_KEY_VARIABLE, options);
      if (refusal) return { error: refusal };
      signing = { issuer: options.issuer, privateKey: developmentIdentityKey(options.issuer) };
    } else {
      try {
        signing = { issuer: options.issuer, privateKey: parsePrivateKey(values.privateKey) };
      } catch (error) {
        return { error: `${IDENTITY_PRIVATE_KEY_VARIABLE} ${messageOf(error)}` };
      }
    }
  }
  const trusted = new Map<string, KeyObject>();
  if (options.trusts.length > 0) {
    if (values.publicKeys === undefined || values.publicKeys.trim() === "") {
      const refusal = developmentRefusal(IDENTITY_PUBLIC_KEYS_VARIABLE, options);
      if (refusal) return { error: refusal };
      for (const issuer of options.trusts) trusted.set(issuer, createPublicKey(developmentIdentityKey(issuer)));
    } else {
      let given: unknown;
      try {
        given = JSON.parse(values.publicKeys);
      } catch {
        return { error: `${IDENTITY_PUBLIC_KEYS_VARIABLE} must be a JSON object of public keys by issuer` };
      }
      if (typeof given !== "object" || given === null || Array.isArray(given)) {
        return { error: `${IDENTITY_PUBLIC_KEYS_VARIABLE} must be a JSON object of public keys by issuer` };
      }
      for (const issuer of options.trusts) {
        const raw = (given as Record<string, unknown>)[issuer];
        if (typeof raw !== "string" && (typeof raw !== "object" || raw === null)) {
          return { error: `${IDENTITY_PUBLIC_KEYS_VARIABLE} has no public key for "${issuer}"` };
        }
        try {
          trusted.set(issuer, parsePublicKey(raw));
        } catch (error) {
          return { error: `${IDENTITY_PUBLIC_KEYS_VARIABLE} "${issuer}" ${messageOf(error)}` };
        }
      }
    }
  }
  return { keys: Object.freeze({ signing, trusted }) };
}

function messageOf(error: unknown): string {
  const message = (error as Error).message;
  return message.startsWith("must") || message.startsWith("is ") ? message : `is not a valid key: ${message}`;
}
