import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { type Authenticator, createAuthenticator } from "../../gateway/auth/index.ts";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("bearer token verification", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  let publicJwk: JWK;
  let auth: Authenticator;
  let strict: Authenticator;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    auth = createAuthenticator({ jwksUrl, jwtSecret: "s".repeat(32) });
    strict = createAuthenticator({ jwksUrl, issuer: "urn:test:issuer", audience: "urn:test:api" });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    new SignJWT({
      sub: "user-1",
      iat: now(),
      exp: now() + 300,
      iss: "urn:test:issuer",
      aud: "urn:test:api",
      scope: "orders:read orders:write",
      ...claims,
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1", ...header })
      .sign(privateKey);

  async function refused(authenticator: Authenticator, header: string) {
    await assert.rejects(
      authenticator.authenticate(header),
      (error: Error & { extensions?: Record<string, unknown> }) => {
        assert.equal(error.extensions?.code, "UNAUTHENTICATED");
        const http = error.extensions?.http as { status: number; headers: Map<string, string> };
        assert.equal(http.status, 401);
        assert.match(http.headers.get("www-authenticate") ?? "", /^Bearer realm=/);
        return true;
      },
    );
  }

  test("no header is an anonymous caller", async () => {
    const caller = await auth.authenticate(undefined);
    assert.equal(caller.userId, null);
    assert.equal(caller.scopes.size, 0);
  });

  test("a valid ES256 token from the JWKS gives subject and scopes", async () => {
    const caller = await auth.authenticate(`Bearer ${await sign()}`);
    assert.equal(caller.userId, "user-1");
    assert.deepEqual([...caller.scopes], ["orders:read", "orders:write"]);
  });

  test("HS256 with the configured shared secret is accepted", async () => {
    const token = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("admin-1")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("s".repeat(32)));
    assert.equal((await auth.authenticate(`Bearer ${token}`)).userId, "admin-1");
  });

  test("issuer and audience must match when configured", async () => {
    assert.equal((await strict.authenticate(`Bearer ${await sign()}`)).userId, "user-1");
    await refused(strict, `Bearer ${await sign({ iss: "urn:other" })}`);
    await refused(strict, `Bearer ${await sign({ aud: "urn:other" })}`);
  });

  test("forged, stale and malformed tokens are refused", async () => {
    const good = await sign();
    const [header, , signature] = good.split(".");
    const hsWithPublicKey = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setSubject("user-1")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const corpus: Record<string, string> = {
      "alg none": `${b64({ alg: "none" })}.${b64({ sub: "user-1", exp: now() + 300 })}.`,
      "HS256 signed with the public key": hsWithPublicKey,
      expired: await sign({ exp: now() - 60 }),
      "nbf in the future": await sign({ nbf: now() + 600 }),
      "no exp": await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("u").sign(privateKey),
      "tampered payload": `${header}.${b64({ sub: "admin", exp: now() + 300 })}.${signature}`,
      "unknown kid": await sign({}, { kid: "nope" }),
      "embedded jwk": await sign({}, { jwk: publicJwk }),
      "jku header": await sign({}, { jku: "http://127.0.0.1:1/evil.json" }),
      garbage: "not-a-token",
      oversized: `${good}${"A".repeat(10_000)}`,
    };
    for (const [name, token] of Object.entries(corpus)) {
      await refused(auth, `Bearer ${token}`).catch((error) => {
        throw new Error(`${name}: ${error.message}`);
      });
    }
    await refused(auth, `Basic ${Buffer.from("a:b").toString("base64")}`);
  });

  test("a token verified once is remembered by its bytes until it expires; a changed byte is checked again", async () => {
    let keyFetches = 0;
    const counting = createServer((_req, res) => {
      keyFetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => counting.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(counting.address() as AddressInfo).port}/jwks.json`;
      // Keys are never reused from the key cache here (0 s), so every real verification fetches them.
      const cached = createAuthenticator({ jwksUrl: url, jwksCacheSeconds: 0, jwksRefreshCooldownSeconds: 0 });
      const token = await sign({ exp: now() + 2 });
      for (let i = 0; i < 5; i++) assert.equal((await cached.authenticate(`Bearer ${token}`)).userId, "user-1");
      const afterFirst = keyFetches;
      assert.ok(afterFirst >= 1, "the first use verified the signature");
      for (let i = 0; i < 3; i++) await cached.authenticate(`Bearer ${token}`);
      assert.equal(keyFetches, afterFirst, "later uses of the same token need no signature check");
      await refused(cached, `Bearer ${token.slice(0, -4)}AAAA`);
      // Past its exp the token is no longer remembered: it is checked again (and then only the
      // 5 s clock tolerance still lets it in).
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const beforeExpiry = keyFetches;
      assert.equal((await cached.authenticate(`Bearer ${token}`)).userId, "user-1");
      assert.ok(keyFetches > beforeExpiry, "an expired entry is verified again, not served from memory");

      const uncached = createAuthenticator({ jwksUrl: url, jwksCacheSeconds: 0, verifiedCacheSeconds: 0 });
      const fresh = await sign();
      const before = keyFetches;
      for (let i = 0; i < 3; i++) await uncached.authenticate(`Bearer ${fresh}`);
      assert.ok(keyFetches > before, "0 turns the cache off");
    } finally {
      await new Promise<void>((resolve) => counting.close(() => resolve()));
    }
  });
});
