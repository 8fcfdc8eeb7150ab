import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose";
import { createCachedJwks } from "../../gateway/auth/jwks.ts";

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let server: Server;
let url: string;
let published: JWK[] = [];
let up = true;
let fetches = 0;

before(async () => {
  server = createServer((_req, res) => {
    fetches++;
    if (!up) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function newKey(kid: string): Promise<{ kid: string; privateKey: Key; jwk: JWK }> {
  const pair = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256" } };
}

const sign = (key: { kid: string; privateKey: Key }) =>
  new SignJWT({ sub: "u1" })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setExpirationTime("1h")
    .sign(key.privateKey);

test("rotation at the issuer, then an outage: verification goes on with cached keys for a bounded time", async () => {
  const a = await newKey("a");
  const b = await newKey("b");
  published = [a.jwk];
  up = true;
  let clock = 1_000_000;
  const warnings: string[] = [];
  const jwks = createCachedJwks({
    url,
    maxAgeMs: 60_000,
    staleMaxAgeMs: 3_600_000,
    refreshCooldownMs: 1000,
    now: () => clock,
    logger: { warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)), info: () => {} },
  });
  const verify = async (token: string) => (await jwtVerify(token, jwks, { algorithms: ["ES256"] })).payload.sub;

  assert.equal(await verify(await sign(a)), "u1");
  assert.equal(fetches, 1);

  // The issuer rotates to b: a token with the unknown kid triggers one refresh.
  published = [a.jwk, b.jwk];
  clock += 2000;
  assert.equal(await verify(await sign(b)), "u1");
  assert.equal(fetches, 2);

  // An unknown kid again within the cooldown does not refetch.
  await assert.rejects(verify(await sign(await newKey("c"))));
  assert.equal(fetches, 2);

  // Outage past the cache age: the stale keys keep working, and the logs say so.
  up = false;
  clock += 120_000;
  assert.equal(await verify(await sign(b)), "u1");
  assert.equal(fetches, 3);
  assert.ok(warnings.some((w) => /unreachable/.test(w)));

  // A failing host is not retried on every request.
  assert.equal(await verify(await sign(a)), "u1");
  assert.equal(fetches, 3);

  // Past the stale limit, nothing verifies.
  clock += 3_600_000;
  await assert.rejects(verify(await sign(b)));

  // Back up: verification resumes.
  up = true;
  clock += 2000;
  assert.equal(await verify(await sign(b)), "u1");
});
