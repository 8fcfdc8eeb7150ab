import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import {
  DEVELOPMENT_INTERNAL_SECRET,
  GATEWAY_ISSUER,
  IDENTITY_AUDIENCE,
  InvalidIdentityTokenError,
  isLoopbackHost,
  requestIdOf,
  resolveInternalSecret,
  signIdentity,
  traceIdOf,
  validTraceparent,
  verifyIdentityToken,
} from "../../common/index.ts";

const SECRET = "common-test-internal-secret-0123456789";
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const key = new TextEncoder().encode(SECRET);

/** A token made by hand, to try what our own signer never makes. */
function handMade(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "HS256", typ: "JWT" }) {
  return new SignJWT(claims)
    .setProtectedHeader(header as { alg: string })
    .setIssuer(GATEWAY_ISSUER)
    .setAudience(IDENTITY_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("60s")
    .sign(key);
}

describe("identity token", () => {
  test("what is signed is what verifies, with the secret as a string or as bytes", async () => {
    const token = await signIdentity({ userId: "u1", scopes: new Set(["orders:read", "admin"]), clientId: "c1" }, key);
    const claims = await verifyIdentityToken(token, SECRET);
    assert.equal(claims.userId, "u1");
    assert.deepEqual([...claims.scopes].sort(), ["admin", "orders:read"]);
    assert.equal(claims.clientId, "c1");
    assert.equal(claims.service, null);
    assert.ok(Object.isFrozen(claims));

    const peer = await verifyIdentityToken(await signIdentity({ service: "orders" }, SECRET, "orders"), key);
    assert.equal(peer.service, "orders");
    assert.equal(peer.userId, null);
    assert.equal(peer.scopes.size, 0);
  });

  test("refuses another secret, another audience, another typ, mistyped claims and oversized tokens", async () => {
    const refused = async (token: string, secret = SECRET) =>
      assert.rejects(verifyIdentityToken(token, secret), InvalidIdentityTokenError);
    await refused(await signIdentity({ userId: "u1" }, SECRET), `${SECRET}-other`);
    await refused(
      await new SignJWT({ scope: "" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(GATEWAY_ISSUER)
        .setAudience("elsewhere")
        .setIssuedAt()
        .setExpirationTime("60s")
        .sign(key),
    );
    await refused(await handMade({ scope: "" }, { alg: "HS256", typ: "at+jwt" }));
    await refused(await handMade({ scope: "" }, { alg: "HS256" }));
    await refused(await handMade({ scope: ["admin"] }));
    await refused(await handMade({ scope: "", client_id: 7 }));
    await refused(await handMade({ scope: "", service: "" }));
    await refused(await handMade({ scope: "", pad: "x".repeat(5000) }));
    // Without `iat` a token's age cannot be bounded.
    await refused(
      await new SignJWT({ scope: "" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(GATEWAY_ISSUER)
        .setAudience(IDENTITY_AUDIENCE)
        .setExpirationTime("60s")
        .sign(key),
    );
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

describe("internal secret", () => {
  test("the development default only outside production on loopback; short secrets never", () => {
    assert.deepEqual(resolveInternalSecret(undefined, { production: false, host: "127.0.0.1" }), {
      secret: DEVELOPMENT_INTERNAL_SECRET,
    });
    assert.deepEqual(resolveInternalSecret("", { production: false, host: "::1" }), {
      secret: DEVELOPMENT_INTERNAL_SECRET,
    });
    for (const options of [
      { production: true, host: "127.0.0.1" },
      { production: false, host: "0.0.0.0" },
      { production: false, host: "10.0.0.5" },
    ]) {
      const result = resolveInternalSecret(undefined, options);
      assert.ok("error" in result && result.error.includes("INTERNAL_SECRET"), JSON.stringify(options));
    }
    const short = resolveInternalSecret("too-short", { production: false, host: "127.0.0.1" });
    assert.ok("error" in short && short.error.includes("INTERNAL_SECRET"));
    assert.deepEqual(resolveInternalSecret(SECRET, { production: true, host: "0.0.0.0" }), { secret: SECRET });
    assert.ok(isLoopbackHost("localhost") && isLoopbackHost("127.1.2.3") && isLoopbackHost("[::1]"));
    assert.ok(!isLoopbackHost("0.0.0.0") && !isLoopbackHost("::") && !isLoopbackHost("example.com"));
  });
});
