import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAuthenticator } from "../../gateway/auth/index.ts";
import {
  createTokenIntrospector,
  ExpiringLruCache,
  type IntrospectionOptions,
  IntrospectionUnavailableError,
} from "../../gateway/auth/introspection.ts";

/** A fake introspection endpoint: answers from `answer(token)`, counts calls, records the requests. */
function fakeServer(answer: (token: string) => unknown | Promise<unknown>, status = 200) {
  const requests: { authorization: string; body: URLSearchParams }[] = [];
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    const body = new URLSearchParams(String(init?.body));
    requests.push({ authorization: new Headers(init?.headers).get("authorization") ?? "", body });
    const value = await answer(body.get("token")!);
    return new Response(typeof value === "string" ? value : JSON.stringify(value), {
      status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof globalThis.fetch;
  return {
    fetch,
    requests,
    get calls() {
      return requests.length;
    },
  };
}

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), seconds: () => Math.floor(now / 1000) };
}

const base = { url: "http://127.0.0.1:1/oauth/introspect", clientId: "gateway", clientSecret: "s3cret:with space" };

function introspector(options: Partial<IntrospectionOptions> & Pick<IntrospectionOptions, "fetch" | "now">) {
  return createTokenIntrospector({ ...base, ...options });
}

describe("ExpiringLruCache", () => {
  test("holds at most maxEntries, dropping the least recently used; expired entries are gone", () => {
    const cache = new ExpiringLruCache<number>(3);
    for (const [i, key] of ["a", "b", "c"].entries()) cache.set(key, i, 1000, 0);
    assert.equal(cache.get("a", 0), 0); // a is now the most recently used
    cache.set("d", 3, 1000, 0);
    assert.equal(cache.size, 3);
    assert.equal(cache.get("b", 0), undefined);
    assert.equal(cache.get("a", 0), 0);
    assert.equal(cache.get("c", 999), 2);
    assert.equal(cache.get("c", 1000), undefined);
    cache.set("e", 5, 10, 10); // already expired: not stored
    assert.equal(cache.get("e", 0), undefined);
  });
});

describe("token introspection client", () => {
  test("asks with client_secret_basic and the token as a form parameter", async () => {
    const server = fakeServer(() => ({ active: false }));
    await introspector({ fetch: server.fetch, now: clock().now }).introspect("tok-1");
    const [request] = server.requests;
    assert.equal(
      Buffer.from(request!.authorization.replace(/^Basic /, ""), "base64").toString(),
      "gateway:s3cret%3Awith+space",
    );
    assert.equal(request!.body.get("token"), "tok-1");
    assert.equal(request!.body.get("token_type_hint"), "access_token");
  });

  test("an active answer is cached until the token expires, never longer", async () => {
    const time = clock();
    let revoked = false;
    const server = fakeServer(() =>
      revoked ? { active: false } : { active: true, scope: "a b", client_id: "c1", exp: time.seconds() + 5 },
    );
    const client = introspector({ fetch: server.fetch, now: time.now, cacheMaxSeconds: 60 });
    const first = await client.introspect("tok");
    assert.equal(first.active, true);
    assert.deepEqual(first.active && [...first.scopes], ["a", "b"]);
    assert.equal(first.active && first.clientId, "c1");
    assert.equal(first.active && first.userId, null);
    revoked = true; // the server would now say inactive; the cache still answers
    time.advance(4_000);
    assert.equal((await client.introspect("tok")).active, true);
    assert.equal(server.calls, 1);
    time.advance(1_000); // exp reached
    assert.equal((await client.introspect("tok")).active, false);
    assert.equal(server.calls, 2);
  });

  test("an active answer is cached at most cacheMaxSeconds, so revocation is seen within that", async () => {
    const time = clock();
    let active = true;
    const server = fakeServer(() => ({ active, exp: time.seconds() + 3600 }));
    const client = introspector({ fetch: server.fetch, now: time.now, cacheMaxSeconds: 60 });
    await client.introspect("tok");
    active = false;
    time.advance(59_000);
    assert.equal((await client.introspect("tok")).active, true);
    time.advance(1_000);
    assert.equal((await client.introspect("tok")).active, false);
    assert.equal(server.calls, 2);
  });

  test("inactive answers are cached briefly and in a bounded cache of their own", async () => {
    const time = clock();
    const server = fakeServer((token) =>
      token === "good" ? { active: true, exp: time.seconds() + 600 } : { active: false },
    );
    const client = introspector({ fetch: server.fetch, now: time.now, cacheMaxEntries: 50, inactiveCacheSeconds: 10 });
    assert.equal((await client.introspect("good")).active, true);
    for (let i = 0; i < 500; i++) assert.equal((await client.introspect(`garbage-${i}`)).active, false);
    assert.deepEqual(client.cacheSize, { active: 1, inactive: 50 });
    const calls = server.calls;
    assert.equal((await client.introspect("good")).active, true); // not pushed out by the flood
    assert.equal((await client.introspect("garbage-499")).active, false);
    assert.equal(server.calls, calls);
    time.advance(10_000);
    await client.introspect("garbage-499");
    assert.equal(server.calls, calls + 1);
  });

  test("concurrent requests for one token share one introspection call", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = fakeServer(async () => {
      await gate;
      return { active: true, exp: Math.floor(Date.now() / 1000) + 60 };
    });
    const client = introspector({ fetch: server.fetch, now: Date.now });
    const answers = Array.from({ length: 20 }, () => client.introspect("same"));
    release();
    assert.ok((await Promise.all(answers)).every((answer) => answer.active));
    assert.equal(server.calls, 1);
  });

  test("a server that cannot answer makes the introspection unavailable, and nothing is cached", async () => {
    const time = clock();
    const failing: [string, IntrospectionOptions["fetch"]][] = [
      ["down", (async () => Promise.reject(new TypeError("fetch failed"))) as typeof fetch],
      ["401", fakeServer(() => ({ error: "invalid_client" }), 401).fetch],
      ["not json", fakeServer(() => "<html>").fetch],
      ["no active", fakeServer(() => ({ scope: "a" })).fetch],
    ];
    for (const [name, fetch] of failing) {
      const client = introspector({ fetch, now: time.now });
      await assert.rejects(client.introspect("tok"), IntrospectionUnavailableError, name);
      assert.deepEqual(client.cacheSize, { active: 0, inactive: 0 }, name);
    }
  });

  test("a slow server times out", async () => {
    const hanging = ((_url: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
      })) as typeof fetch;
    const client = introspector({ fetch: hanging, now: Date.now, timeoutMs: 100 });
    // AbortSignal.timeout does not keep the process alive; a running gateway's server does.
    const keepAlive = setTimeout(() => {}, 5_000);
    try {
      await assert.rejects(client.introspect("tok"), IntrospectionUnavailableError);
    } finally {
      clearTimeout(keepAlive);
    }
  });

  test("in-flight introspections are bounded", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = fakeServer(async () => {
      await gate;
      return { active: false };
    });
    const client = introspector({ fetch: server.fetch, now: Date.now, maxConcurrent: 2 });
    const pending = [client.introspect("t1"), client.introspect("t2")];
    await assert.rejects(client.introspect("t3"), IntrospectionUnavailableError);
    release();
    await Promise.all(pending);
    assert.equal(server.calls, 2);
  });

  test("answers that do not make an access token valid here are inactive", async () => {
    const time = clock();
    const answers: Record<string, unknown> = {
      expired: { active: true, exp: time.seconds() - 1 },
      "not yet valid": { active: true, nbf: time.seconds() + 600 },
      "refresh token": { active: true, token_type: "refresh_token" },
      "other issuer": { active: true, iss: "urn:other" },
      "other audience": { active: true, aud: ["urn:other"] },
    };
    const server = fakeServer((token) => answers[token]);
    const client = introspector({ fetch: server.fetch, now: time.now, issuer: "urn:me", audience: "urn:api" });
    for (const name of Object.keys(answers)) assert.equal((await client.introspect(name)).active, false, name);

    const users = fakeServer((token) => ({ active: true, sub: token === "user" ? "u1" : "c1", client_id: "c1" }));
    const identities = introspector({ fetch: users.fetch, now: time.now });
    const user = await identities.introspect("user");
    const machine = await identities.introspect("machine");
    assert.equal(user.active && user.userId, "u1");
    assert.equal(machine.active && machine.userId, null);
  });
});

describe("authenticator with introspection", () => {
  const refusal = (error: unknown) => (error as { extensions: Record<string, unknown> }).extensions;

  test("opaque tokens are introspected; JWT-shaped ones never are", async () => {
    const server = fakeServer((token) =>
      token === "good-opaque-token"
        ? {
            active: true,
            scope: "catalog:read",
            client_id: "reporting-client",
            exp: Math.floor(Date.now() / 1000) + 60,
          }
        : { active: false },
    );
    const auth = createAuthenticator({ jwksUrl: null, introspection: { ...base, fetch: server.fetch } });
    const caller = await auth.authenticate("Bearer good-opaque-token");
    assert.deepEqual(
      { userId: caller.userId, clientId: caller.clientId, scopes: [...caller.scopes] },
      { userId: null, clientId: "reporting-client", scopes: ["catalog:read"] },
    );

    await assert.rejects(auth.authenticate("Bearer revoked-opaque-token"), (error) => {
      const extensions = refusal(error);
      assert.equal(extensions.code, "UNAUTHENTICATED");
      const http = extensions.http as { status: number; headers: Map<string, string> };
      assert.equal(http.status, 401);
      assert.match(http.headers.get("www-authenticate") ?? "", /^Bearer .*error="invalid_token"/);
      return true;
    });
    const calls = server.calls;
    await assert.rejects(auth.authenticate("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), (error) => {
      assert.equal(refusal(error).code, "UNAUTHENTICATED");
      return true;
    });
    assert.equal(server.calls, calls);
  });

  test("without introspection, opaque tokens are refused as malformed without any request", async () => {
    const auth = createAuthenticator({ jwksUrl: null });
    await assert.rejects(auth.authenticate("Bearer some-opaque-token"), (error) => {
      assert.equal(refusal(error).code, "UNAUTHENTICATED");
      return true;
    });
  });

  test("an unreachable introspection endpoint is SUBGRAPH_UNAVAILABLE (503), not a verdict on the token", async () => {
    const down = (async () => Promise.reject(new TypeError("fetch failed"))) as typeof fetch;
    const auth = createAuthenticator({ jwksUrl: null, introspection: { ...base, fetch: down } });
    await assert.rejects(auth.authenticate("Bearer some-opaque-token"), (error) => {
      const extensions = refusal(error);
      assert.equal(extensions.code, "SUBGRAPH_UNAVAILABLE");
      assert.equal((extensions.http as { status: number }).status, 503);
      return true;
    });
  });
});
