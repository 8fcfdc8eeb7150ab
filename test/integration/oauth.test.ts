import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { jwtVerify } from "jose";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway } from "../../gateway/gateway.ts";
import { DEMO_OAUTH_CLIENT, type OAuthClientConfig } from "../../subgraphs/users/oauth.ts";
import { type Stack, silent, startStack } from "../helpers/stack.ts";

const SHORT_LIVED: OAuthClientConfig = {
  id: "short-lived-client",
  secret: "short-lived-client-secret",
  scope: "catalog:read",
  tokenTtlSeconds: 2,
};
const PRODUCTS = "{ products(first: 2) { nodes { id } } }";
const SUBGRAPHS = ["users", "products", "orders", "payments"] as const;

/** Watches a stack's services from the side of their HTTP servers: GraphQL calls, introspections, identities. */
function watch(stack: Stack) {
  const seen = { graphql: 0, introspections: 0, productIdentities: [] as string[] };
  for (const name of SUBGRAPHS) {
    stack[name].app.server.on("request", (request: IncomingMessage) => {
      if (request.url?.startsWith("/graphql")) {
        seen.graphql++;
        const identity = request.headers["x-identity-token"];
        if (name === "products" && typeof identity === "string") seen.productIdentities.push(identity);
      }
      if (request.url === "/oauth/introspect") seen.introspections++;
    });
  }
  return seen;
}

async function requestToken(stack: Stack, client: OAuthClientConfig, params: Record<string, string> = {}) {
  const res = await fetch(new URL("/oauth/token", stack.subgraphUrls.users), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", ...params }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function tokenOf(stack: Stack, client: OAuthClientConfig, scope?: string) {
  const res = await requestToken(stack, client, scope === undefined ? {} : { scope });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { token: res.body.access_token as string, expiresIn: res.body.expires_in as number };
}

async function revoke(stack: Stack, client: OAuthClientConfig, token: string) {
  const res = await fetch(new URL("/oauth/revoke", stack.subgraphUrls.users), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  assert.equal(res.status, 200);
}

function assertRefused(res: Awaited<ReturnType<Stack["graphql"]>>) {
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.equal(res.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer .*error="invalid_token"/);
}

/** Polls `check` until it returns true or `ms` pass; bounded, no fixed sleep. */
async function until(check: () => Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("opaque OAuth access tokens through the gateway", () => {
  let stack: Stack;
  let seen: ReturnType<typeof watch>;

  before(async () => {
    // Each request must reach the products subgraph (its view of the identity is read back): no response cache.
    stack = await startStack(
      { RESPONSE_CACHE: "false" },
      { introspection: true, users: { oauthClients: [SHORT_LIVED] } },
    );
    seen = watch(stack);
  });
  after(() => stack?.close());

  test("client credentials → opaque token → a query that needs no user; the client reaches the subgraph", async () => {
    const { token } = await tokenOf(stack, DEMO_OAUTH_CLIENT);
    assert.doesNotMatch(token, /\./);
    const identities = seen.productIdentities.length;
    const res = await stack.graphql<{ products: { nodes: { id: string }[] } }>(PRODUCTS, {}, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.data?.products.nodes.map((node) => node.id),
      ["prod-001", "prod-002"],
    );
    const identity = seen.productIdentities.at(-1);
    assert.ok(seen.productIdentities.length > identities && identity);
    const { payload } = await jwtVerify(identity, stack.identity.publicKey("gateway"), {
      audience: "subgraph:products",
    });
    assert.equal(payload.client_id, DEMO_OAUTH_CLIENT.id);
    assert.equal(payload.sub, undefined);
    assert.deepEqual(String(payload.scope).split(" ").sort(), DEMO_OAUTH_CLIENT.scope.split(" ").sort());
  });

  test("a token for a subset of the client's scopes carries only those; more than allowed is invalid_scope", async () => {
    const { token } = await tokenOf(stack, DEMO_OAUTH_CLIENT, "catalog:read");
    assert.equal((await stack.graphql(PRODUCTS, {}, token)).status, 200);
    const { payload } = await jwtVerify(seen.productIdentities.at(-1)!, stack.identity.publicKey("gateway"), {
      audience: "subgraph:products",
    });
    assert.equal(payload.scope, "catalog:read");

    const tooMuch = await requestToken(stack, DEMO_OAUTH_CLIENT, { scope: "catalog:read admin" });
    assert.equal(tooMuch.status, 400);
    assert.equal(tooMuch.body.error, "invalid_scope");
  });

  test("a wrong client secret is invalid_client", async () => {
    const res = await requestToken(stack, { ...DEMO_OAUTH_CLIENT, secret: "not-the-right-secret" });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, "invalid_client");
  });

  test("a revoked token is refused (401 invalid_token) and no subgraph is called", async () => {
    const { token } = await tokenOf(stack, DEMO_OAUTH_CLIENT);
    await revoke(stack, DEMO_OAUTH_CLIENT, token);
    const graphqlCalls = seen.graphql;
    const introspections = seen.introspections;
    assertRefused(await stack.graphql(PRODUCTS, {}, token));
    assert.equal(seen.graphql, graphqlCalls);
    assert.equal(seen.introspections, introspections + 1);
  });

  test("an unknown opaque token is refused, and asked about once while its answer is cached", async () => {
    const graphqlCalls = seen.graphql;
    const introspections = seen.introspections;
    for (let i = 0; i < 3; i++) assertRefused(await stack.graphql(PRODUCTS, {}, "made-up-opaque-token"));
    assert.equal(seen.graphql, graphqlCalls);
    assert.equal(seen.introspections, introspections + 1);
  });

  test("a cached answer lives no longer than the token: a 2 s token is refused once it expires", async () => {
    const { token, expiresIn } = await tokenOf(stack, SHORT_LIVED);
    assert.equal(expiresIn, 2);
    const expiresAt = Date.now() + expiresIn * 1000;
    const introspections = seen.introspections;
    assert.equal((await stack.graphql(PRODUCTS, {}, token)).status, 200);
    assert.equal((await stack.graphql(PRODUCTS, {}, token)).status, 200);
    assert.equal(seen.introspections, introspections + 1, "the second request is answered from the cache");

    let refused: Awaited<ReturnType<Stack["graphql"]>> | undefined;
    await until(
      async () => {
        const res = await stack.graphql(PRODUCTS, {}, token);
        if (res.status === 200) return false;
        refused = res;
        return true;
      },
      8_000,
      "the expired token to be refused",
    );
    assert.ok(Date.now() >= expiresAt - 1_000, "refused only around its expiry, not before");
    const graphqlCalls = seen.graphql;
    assertRefused(refused!);
    assertRefused(await stack.graphql(PRODUCTS, {}, token));
    assert.equal(seen.graphql, graphqlCalls);
  });

  test("user JWTs are still verified locally, without introspection", async () => {
    const token = await stack.login("alice@example.com", "alice-password");
    const introspections = seen.introspections;
    const res = await stack.graphql<{ me: { email: string } }>("{ me { email } }", {}, token);
    assert.equal(res.body.data?.me.email, "alice@example.com");
    assert.equal(seen.introspections, introspections);
  });

  test("an unreachable introspection endpoint is 503 SUBGRAPH_UNAVAILABLE, and no subgraph is called", async () => {
    const config = loadConfig({
      ...stack.identity.gatewayEnv,
      SUPERGRAPH_PATH: stack.supergraphPath,
      LOG_LEVEL: "silent",
      INTROSPECTION_URL: "http://127.0.0.1:1/oauth/introspect",
      INTROSPECTION_CLIENT_ID: "gateway",
      INTROSPECTION_CLIENT_SECRET: "any-secret-at-all",
    });
    const gateway = await createGateway(config, { logger: silent });
    try {
      const url = await gateway.listen(0);
      const { token } = await tokenOf(stack, DEMO_OAUTH_CLIENT);
      const graphqlCalls = seen.graphql;
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: PRODUCTS }),
      });
      const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
      assert.equal(res.status, 503);
      assert.equal(body.errors?.[0]?.extensions?.code, "SUBGRAPH_UNAVAILABLE");
      assert.ok(res.headers.get("retry-after"));
      assert.equal(seen.graphql, graphqlCalls);
    } finally {
      await gateway.close();
    }
  });
});

describe("revocation with a short introspection cache", () => {
  let stack: Stack;
  let seen: ReturnType<typeof watch>;

  before(async () => {
    stack = await startStack({ INTROSPECTION_CACHE_MAX_SECONDS: "1" }, { introspection: true });
    seen = watch(stack);
  });
  after(() => stack?.close());

  test("a token revoked after use is refused once its cached answer ages out", async () => {
    const { token } = await tokenOf(stack, DEMO_OAUTH_CLIENT);
    assert.equal((await stack.graphql(PRODUCTS, {}, token)).status, 200);
    await revoke(stack, DEMO_OAUTH_CLIENT, token);
    let refused: Awaited<ReturnType<Stack["graphql"]>> | undefined;
    await until(
      async () => {
        const res = await stack.graphql(PRODUCTS, {}, token);
        if (res.status === 200) return false;
        refused = res;
        return true;
      },
      5_000,
      "the revoked token to be refused",
    );
    const graphqlCalls = seen.graphql;
    assertRefused(refused!);
    assertRefused(await stack.graphql(PRODUCTS, {}, token));
    assert.equal(seen.graphql, graphqlCalls);
  });
});
