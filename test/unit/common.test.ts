import assert from "node:assert/strict";
import { createPublicKey, type KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import { jwtVerify, SignJWT } from "jose";
import {
  developmentIdentityKey,
  GATEWAY_ISSUER,
  generateIdentityKeyPair,
  type IdentityVerification,
  InvalidIdentityTokenError,
  identityAudience,
  isLoopbackHost,
  parsePrivateKey,
  requestIdOf,
  resolveIdentityKeys,
  signIdentity,
  traceIdOf,
  validTraceparent,
  verifyIdentityToken,
} from "../../common/index.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const fresh = () => parsePrivateKey(generateIdentityKeyPair().privateKey);
const gatewayKey = fresh();
const ordersKey = fresh();
const paymentsKey = fresh();
const gateway = { issuer: GATEWAY_ISSUER, privateKey: gatewayKey };
const orders = { issuer: "orders", privateKey: ordersKey };
const payments = { issuer: "payments", privateKey: paymentsKey };
/** What the products subgraph trusts: the gateway and orders (its one peer). */
const products: IdentityVerification = {
  subgraph: "products",
  trusted: new Map<string, KeyObject>([
    [GATEWAY_ISSUER, createPublicKey(gatewayKey)],
    ["orders", createPublicKey(ordersKey)],
  ]),
};
/** What the orders subgraph trusts: the gateway and payments. */
const ordersSubgraph: IdentityVerification = {
  subgraph: "orders",
  trusted: new Map<string, KeyObject>([
    [GATEWAY_ISSUER, createPublicKey(gatewayKey)],
    ["payments", createPublicKey(paymentsKey)],
  ]),
};

/** A token made by hand with any key, header and claims, to try what our own signer never makes. */
function handMade(
  claims: Record<string, unknown>,
  options: { key?: KeyObject; header?: Record<string, unknown>; iss?: string; aud?: string; iat?: boolean } = {},
) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader(
      (options.header ?? { alg: "EdDSA", typ: "JWT", kid: options.iss ?? GATEWAY_ISSUER }) as { alg: string },
    )
    .setIssuer(options.iss ?? GATEWAY_ISSUER)
    .setAudience(options.aud ?? identityAudience("products"))
    .setExpirationTime("60s");
  if (options.iat !== false) jwt.setIssuedAt();
  return jwt.sign(options.key ?? gatewayKey);
}

const refused = (token: string, verification = products) =>
  assert.rejects(verifyIdentityToken(token, verification), InvalidIdentityTokenError);

describe("identity token", () => {
  test("what the gateway signs for a subgraph verifies there, with issuer and audience", async () => {
    const token = await signIdentity(
      { userId: "u1", scopes: new Set(["orders:read", "admin"]), clientId: "c1" },
      gateway,
      "products",
    );
    const { payload, protectedHeader } = await jwtVerify(token, createPublicKey(gatewayKey));
    assert.equal(payload.iss, "gateway");
    assert.equal(payload.aud, "subgraph:products");
    assert.equal(protectedHeader.alg, "EdDSA");
    assert.equal(protectedHeader.kid, "gateway");
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 60);
    const claims = await verifyIdentityToken(token, products);
    assert.equal(claims.userId, "u1");
    assert.deepEqual([...claims.scopes].sort(), ["admin", "orders:read"]);
    assert.equal(claims.clientId, "c1");
    assert.equal(claims.service, null);
    assert.ok(Object.isFrozen(claims));
  });

  test("a token for subgraph:products is refused by orders, and the other way round", async () => {
    const identity = { userId: "u1", scopes: new Set(["admin"]) };
    await refused(await signIdentity(identity, gateway, "products"), ordersSubgraph);
    await refused(await signIdentity(identity, gateway, "orders"), products);
    await refused(await handMade({ scope: "" }, { aud: "subgraphs" }));
  });

  test("a peer signs only itself: service = its issuer, scope internal, no user, whatever it is asked", async () => {
    const token = await signIdentity(
      { userId: "admin-1", scopes: new Set(["admin"]), clientId: "c" },
      orders,
      "products",
    );
    const peer = await verifyIdentityToken(token, products);
    assert.equal(peer.service, "orders");
    assert.equal(peer.userId, null);
    assert.equal(peer.clientId, null);
    assert.deepEqual([...peer.scopes], ["internal"]);
  });

  test("a peer token minted by orders is refused as a user identity", async () => {
    const asUser = { iss: "orders", key: ordersKey };
    await refused(await handMade({ sub: "admin-1", scope: "admin" }, asUser));
    await refused(await handMade({ sub: "admin-1", scope: "internal", service: "orders" }, asUser));
    await refused(await handMade({ scope: "admin", service: "orders" }, asUser));
    await refused(await handMade({ scope: "internal", service: "orders", client_id: "c" }, asUser));
    // A peer cannot speak for another peer, nor call a subgraph that does not trust it.
    await refused(await handMade({ scope: "internal", service: "payments" }, asUser));
    await refused(await signIdentity({}, payments, "products"));
    await refused(await signIdentity({}, orders, "orders"), ordersSubgraph);
  });

  test("a token signed by a service's key is refused when it claims to be the gateway", async () => {
    await refused(await handMade({ sub: "u1", scope: "admin" }, { key: ordersKey }));
    await refused(
      await signIdentity(
        { userId: "u1", scopes: new Set(["admin"]) },
        { issuer: GATEWAY_ISSUER, privateKey: ordersKey },
        "products",
      ),
    );
    // kid naming the gateway's key while iss names orders (or the reverse) is refused too.
    await refused(
      await handMade(
        { scope: "internal", service: "orders" },
        { key: ordersKey, iss: "orders", header: { alg: "EdDSA", typ: "JWT", kid: "gateway" } },
      ),
    );
    await refused(
      await handMade({ sub: "u1", scope: "admin" }, { header: { alg: "EdDSA", typ: "JWT", kid: "orders" } }),
    );
    // The gateway never vouches for a service.
    await refused(await handMade({ scope: "internal", service: "orders" }));
  });

  test("refuses other keys and algorithms, another typ, mistyped claims and oversized tokens", async () => {
    await refused(await handMade({ scope: "" }, { key: fresh() }));
    await refused(
      await new SignJWT({ scope: "" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: "gateway" })
        .setIssuer(GATEWAY_ISSUER)
        .setAudience(identityAudience("products"))
        .setIssuedAt()
        .setExpirationTime("60s")
        .sign(new TextEncoder().encode("x".repeat(32))),
    );
    await refused(await handMade({ scope: "" }, { header: { alg: "EdDSA", typ: "at+jwt", kid: "gateway" } }));
    await refused(await handMade({ scope: "" }, { header: { alg: "EdDSA", kid: "gateway" } }));
    await refused(await handMade({ scope: "" }, { header: { alg: "EdDSA", typ: "JWT" } }));
    await refused(await handMade({ scope: ["admin"] }));
    await refused(await handMade({ scope: "", client_id: 7 }));
    await refused(await handMade({ scope: "", service: "" }));
    await refused(await handMade({ scope: "", pad: "x".repeat(5000) }));
    // Without `iat` a token's age cannot be bounded.
    await refused(await handMade({ scope: "" }, { iat: false }));
  });
});

describe("identity keys", () => {
  const values = (privateKey?: string, publicKeys?: string) => ({ privateKey, publicKeys });
  const ordersProcess = { issuer: "orders", trusts: ["gateway", "payments"] };

  test("development keys only outside production on loopback, derived alike in every process", () => {
    const resolved = resolveIdentityKeys(values(), { production: false, host: "127.0.0.1", ...ordersProcess });
    assert.ok("keys" in resolved);
    assert.ok(resolved.keys.signing?.privateKey.equals(developmentIdentityKey("orders")));
    assert.ok(resolved.keys.trusted.get("gateway")?.equals(createPublicKey(developmentIdentityKey("gateway"))));
    assert.ok(!developmentIdentityKey("gateway").equals(developmentIdentityKey("orders")));
    for (const where of [
      { production: true, host: "127.0.0.1" },
      { production: false, host: "0.0.0.0" },
      { production: false, host: "10.0.0.5" },
    ]) {
      const result = resolveIdentityKeys(values(), { ...where, ...ordersProcess });
      assert.ok(
        "error" in result && result.error.startsWith("IDENTITY_PRIVATE_KEY is required"),
        JSON.stringify(where),
      );
      const verifyOnly = resolveIdentityKeys(values(), { ...where, issuer: null, trusts: ["gateway"] });
      assert.ok("error" in verifyOnly && verifyOnly.error.startsWith("IDENTITY_PUBLIC_KEYS is required"));
    }
    assert.ok(isLoopbackHost("localhost") && isLoopbackHost("127.1.2.3") && isLoopbackHost("[::1]"));
    assert.ok(!isLoopbackHost("0.0.0.0") && !isLoopbackHost("::") && !isLoopbackHost("example.com"));
  });

  test("PEM and JWK keys are read; anything else is refused naming the variable", async () => {
    const pair = generateIdentityKeyPair();
    const jwk = JSON.stringify(parsePrivateKey(pair.privateKey).export({ format: "jwk" }));
    const publicJwk = createPublicKey(pair.privateKey).export({ format: "jwk" });
    const production = { production: true, host: "0.0.0.0", issuer: "orders", trusts: ["gateway"] };
    for (const privateKey of [pair.privateKey, jwk]) {
      for (const publicKey of [pair.publicKey, publicJwk]) {
        const resolved = resolveIdentityKeys(values(privateKey, JSON.stringify({ gateway: publicKey })), production);
        assert.ok("keys" in resolved, JSON.stringify(resolved));
        const token = await signIdentity({}, resolved.keys.signing!, "products");
        assert.ok(token);
      }
    }
    const rsa = (await import("node:crypto")).generateKeyPairSync("rsa", { modulusLength: 2048 });
    for (const [given, variable] of [
      [values("garbage", JSON.stringify({ gateway: pair.publicKey })), "IDENTITY_PRIVATE_KEY"],
      [
        values(
          rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          JSON.stringify({ gateway: pair.publicKey }),
        ),
        "IDENTITY_PRIVATE_KEY",
      ],
      [values(pair.privateKey, "not json"), "IDENTITY_PUBLIC_KEYS"],
      [values(pair.privateKey, JSON.stringify({ orders: pair.publicKey })), "IDENTITY_PUBLIC_KEYS"],
      [values(pair.privateKey, JSON.stringify({ gateway: pair.privateKey })), "IDENTITY_PUBLIC_KEYS"],
      [values(pair.privateKey, JSON.stringify({ gateway: JSON.parse(jwk) })), "IDENTITY_PUBLIC_KEYS"],
    ] as const) {
      const result = resolveIdentityKeys(given, production);
      assert.ok("error" in result && result.error.startsWith(variable), JSON.stringify(result));
    }
  });
});

describe("request id and trace context", () => {
  test("an acceptable X-Request-Id is kept; otherwise the trace id; otherwise a new UUID", () => {
    assert.equal(requestIdOf({ "x-request-id": "abc-123" }), "abc-123");
    assert.equal(requestIdOf({ "x-request-id": "a b", traceparent: `00-${TRACE}-00f067aa0ba902b7-01` }), TRACE);
    assert.match(requestIdOf({ "x-request-id": "x".repeat(129) }), /^[0-9a-f-]{36}$/);
    assert.match(requestIdOf({ "x-request-id": 'a"}\n' }), /^[0-9a-f-]{36}$/);
    assert.match(requestIdOf({}), /^[0-9a-f-]{36}$/);
  });

  test("traceparent follows W3C Trace Context and nothing looser", () => {
    assert.equal(traceIdOf(`00-${TRACE}-00f067aa0ba902b7-01`), TRACE);
    assert.equal(traceIdOf(` 00-${TRACE}-00f067aa0ba902b7-01 `), TRACE);
    // A later version may carry more fields after its first four.
    assert.equal(traceIdOf(`01-${TRACE}-00f067aa0ba902b7-01-more`), TRACE);
    for (const bad of [
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      `ff-${TRACE}-00f067aa0ba902b7-01`,
      `00-${TRACE}-00f067aa0ba902b7-01-extra`,
      `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`,
      `01-${TRACE}-00f067aa0ba902b7-01-${"x".repeat(500)}`,
      "garbage",
    ]) {
      assert.equal(traceIdOf(bad), null, bad);
    }
    assert.equal(traceIdOf([`00-${TRACE}-00f067aa0ba902b7-01`, `00-${TRACE}-00f067aa0ba902b7-01`]), null);
    assert.equal(validTraceparent(` 00-${TRACE}-00f067aa0ba902b7-01`), `00-${TRACE}-00f067aa0ba902b7-01`);
  });
});
