import type { KeyObject } from "node:crypto";
import {
  GATEWAY_ISSUER,
  generateIdentityKeyPair,
  type IdentityKeys,
  parsePrivateKey,
  parsePublicKey,
  type SignableIdentity,
  signIdentity,
} from "../../common/index.ts";

/** The peers each service accepts identities from, as their `index.ts` declares them. */
export const SERVICE_PEERS: Record<string, readonly string[]> = {
  users: [],
  products: ["orders"],
  orders: ["payments"],
  payments: [],
};
/** The issuers that sign: the gateway and the services that call peers. */
const SIGNERS = [GATEWAY_ISSUER, "orders", "payments"] as const;

/** A fresh key pair for every signer, as one test run's processes would get from `npm start`. */
export interface TestIdentityKeys {
  /** PEM key pairs by issuer. */
  readonly pairs: Readonly<Record<string, { privateKey: string; publicKey: string }>>;
  /** The gateway's environment: `IDENTITY_PRIVATE_KEY`. */
  readonly gatewayEnv: { IDENTITY_PRIVATE_KEY: string };
  /** A service's `identityKeys`: its own key if it signs, the gateway's and its peers' public keys. */
  forService(name: string): IdentityKeys;
  /** A service's environment: `IDENTITY_PUBLIC_KEYS` (all public keys) and, if it signs, `IDENTITY_PRIVATE_KEY`. */
  envFor(name: string): Record<string, string>;
  /** An identity token signed by `issuer` (default the gateway) for `subgraph`. */
  sign(identity: SignableIdentity, subgraph: string, issuer?: string): Promise<string>;
  /** The public key of an issuer. */
  publicKey(issuer: string): KeyObject;
}

export function createTestIdentityKeys(): TestIdentityKeys {
  const pairs = Object.fromEntries(SIGNERS.map((issuer) => [issuer, generateIdentityKeyPair()]));
  const privateKey = (issuer: string) => parsePrivateKey(pairs[issuer]!.privateKey);
  const publicKey = (issuer: string) => parsePublicKey(pairs[issuer]!.publicKey);
  const allPublic = JSON.stringify(Object.fromEntries(SIGNERS.map((issuer) => [issuer, pairs[issuer]!.publicKey])));
  return {
    pairs,
    gatewayEnv: { IDENTITY_PRIVATE_KEY: pairs[GATEWAY_ISSUER]!.privateKey },
    forService(name) {
      const trusts = [GATEWAY_ISSUER, ...(SERVICE_PEERS[name] ?? [])];
      return {
        signing: name in pairs ? { issuer: name, privateKey: privateKey(name) } : null,
        trusted: new Map(trusts.map((issuer) => [issuer, publicKey(issuer)])),
      };
    },
    envFor(name) {
      return {
        IDENTITY_PUBLIC_KEYS: allPublic,
        ...(name in pairs && { IDENTITY_PRIVATE_KEY: pairs[name]!.privateKey }),
      };
    },
    sign: (identity, subgraph, issuer = GATEWAY_ISSUER) =>
      signIdentity(identity, { issuer, privateKey: privateKey(issuer) }, subgraph),
    publicKey,
  };
}

/** One key set for a whole test file, when nothing depends on its being fresh. */
export const testKeys = createTestIdentityKeys();
