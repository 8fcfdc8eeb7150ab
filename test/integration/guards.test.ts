import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { getIntrospectionQuery } from "graphql";
import { type Stack, startStack } from "../helpers/stack.ts";

const LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
const ALICE = { e: "alice@example.com", p: "alice-password" };

interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON (single results and batches)
  body: any;
}

async function post(stack: Stack, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${stack.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const codeOf = (body: { errors?: { extensions?: { code?: string } }[] }) => body.errors?.[0]?.extensions?.code;

describe("guards with the shop's defaults", () => {
  let stack: Stack;
  /** Alice's token from the first test: this stack's login budget is spent on purpose below. */
  let token: string;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  test("every README operation goes through, with RateLimit headers on limited fields", async () => {
    const catalogue = await stack.graphql(
      "{ products(first: 3) { nodes { id name priceCents stock } pageInfo { endCursor hasNextPage } totalCount } }",
    );
    assert.equal(catalogue.status, 200);
    assert.equal(catalogue.body.errors, undefined);
    assert.equal(catalogue.headers.get("ratelimit"), null, "no limited field, no RateLimit header");
    const big = await stack.graphql("{ products(first: 100) { nodes { id name priceCents currency stock } } }");
    assert.equal(big.body.errors, undefined);

    const login = await stack.graphql<{ login: { token: string } }>(LOGIN, ALICE);
    assert.equal(login.status, 200);
    token = login.body.data!.login.token;
    assert.equal(login.headers.get("ratelimit-policy"), '"Mutation.login";q=5;w=60');
    assert.match(login.headers.get("ratelimit") ?? "", /^"Mutation\.login";r=4;t=\d+$/);

    const order = await stack.graphql<{ placeOrder: { id: string } }>(
      'mutation { placeOrder(input: { items: [{ productId: "prod-001", quantity: 2 }] }) { id totalCents status } }',
      {},
      token,
    );
    assert.equal(order.body.errors, undefined);
    assert.equal(order.headers.get("ratelimit-policy"), '"Mutation.placeOrder";q=30;w=60');
    const paid = await stack.graphql(
      'mutation($id: ID!) { processPayment(input: { orderId: $id, idempotencyKey: "first-try", paymentMethod: "pm_card_ok" }) { id status } }',
      { id: order.body.data!.placeOrder.id },
      token,
    );
    assert.equal(paid.body.errors, undefined);
    assert.match(paid.headers.get("ratelimit") ?? "", /^"Mutation\.processPayment";r=9;t=\d+$/);
    const picture = await stack.graphql(
      "{ me { name orders { id status totalCents items { quantity product { name } } payment { status } } } }",
      {},
      token,
    );
    assert.equal(picture.body.errors, undefined);
  });

  test("the standard introspection query passes outside production", async () => {
    const res = await stack.graphql(getIntrospectionQuery());
    assert.equal(res.status, 200);
    assert.equal(res.body.errors, undefined);
  });

  test("login: 5 a minute per client IP, then RATE_LIMITED 429 with Retry-After", async () => {
    // The first test spent one login; four more fit.
    for (let i = 0; i < 4; i++) assert.equal((await stack.graphql(LOGIN, ALICE)).status, 200);
    const refused = await stack.graphql(LOGIN, ALICE);
    assert.equal(refused.status, 429);
    assert.equal(codeOf(refused.body), "RATE_LIMITED");
    const error = refused.body.errors![0]!;
    assert.equal(error.extensions?.field, "Mutation.login");
    const retryAfter = error.extensions?.retryAfter as number;
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retryAfter ${retryAfter}`);
    assert.equal(refused.headers.get("retry-after"), String(retryAfter));
    assert.match(refused.headers.get("ratelimit") ?? "", /^"Mutation\.login";r=0;t=\d+$/);
    assert.equal(refused.body.data, undefined);
    // register shares nothing with login: its own budget.
    const register = await stack.graphql("mutation($i: RegisterInput!) { register(input: $i) { user { id } } }", {
      i: { email: "dana@example.com", name: "Dana", password: "dana-password-1" },
    });
    assert.equal(register.status, 200, JSON.stringify(register.body));
  });

  test("probes are stopped before execution with their codes", async () => {
    const cases: [string, string, unknown][] = [
      [
        "101 aliases of __typename",
        "ALIAS_LIMIT_EXCEEDED",
        `{ ${Array.from({ length: 101 }, (_, i) => `a${i}: __typename`).join(" ")} }`,
      ],
      ["500 repeated fields", "REPEATED_FIELD_LIMIT_EXCEEDED", `{ ${"__typename ".repeat(500)}}`],
      [
        "a 20-deep me/orders/user cycle",
        "DEPTH_LIMIT_EXCEEDED",
        `{ me { ${"orders { user { ".repeat(10)}id${" } }".repeat(10)} } }`,
      ],
      [
        "a 10 000-token document",
        "TOKEN_LIMIT_EXCEEDED",
        `{ products(first: 1) { nodes { id ${"name ".repeat(9990)}} } }`,
      ],
      ["10 repeated directives", "DIRECTIVE_LIMIT_EXCEEDED", `{ __typename ${"@include(if: true) ".repeat(10)}}`],
      [
        "12 root fields",
        "ROOT_FIELD_LIMIT_EXCEEDED",
        `{ ${Array.from({ length: 12 }, (_, i) => `f${i}: __typename`).join(" ")} }`,
      ],
      [
        "an expensive nesting",
        "COST_LIMIT_EXCEEDED",
        "{ me { orders { user { orders { user { orders { items { product { id } } } } } } } } }",
      ],
    ];
    for (const [name, code, query] of cases) {
      // Signed in: the nesting probe reads `me`, which anonymous callers may not.
      const res = await post(stack, { query }, { authorization: `Bearer ${token}` });
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.equal(codeOf(res.body), code, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    const batch = await post(
      stack,
      Array.from({ length: 10 }, () => ({ query: "{ __typename }" })),
    );
    assert.equal(batch.status, 400, "10 batched operations");
  });

  test("depth is measured through fragments and inline fragments", async () => {
    const query = `
      query { me { ...A } }
      fragment A on User { orders { ... on Order { user { ...B } } } }
      fragment B on User { orders { user { orders { user { orders { user { orders { id } } } } } } } }`;
    const res = await post(stack, { query });
    assert.equal(codeOf(res.body), "DEPTH_LIMIT_EXCEEDED");
    assert.equal(res.body.errors[0].extensions.limit, 10);
    assert.equal(res.body.errors[0].extensions.actual, 11);
  });

  test("cost follows list sizes given by variables", async () => {
    const query = "query($n: Int) { products(first: $n) { nodes { id } } }";
    assert.equal((await post(stack, { query, variables: { n: 100 } })).status, 200);
    const expensive =
      "query($n: Int) { a: products(first: $n) { nodes { id } } b: products(first: $n) { nodes { id } } }";
    assert.equal((await post(stack, { query: expensive, variables: { n: 5 } })).status, 200);
    const refused = await post(stack, { query: expensive, variables: { n: 600 } });
    assert.equal(refused.status, 400);
    assert.equal(codeOf(refused.body), "COST_LIMIT_EXCEEDED");
  });
});

describe("per-field limits: walking the operation", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      RATE_LIMIT_OVERRIDES: JSON.stringify({
        "Query.product": { max: 3, window: "1m", identity: "ip" },
        "Query.products": { max: 4, window: "1m", identity: "ip" },
        "Query.me": { max: 2, window: "1m" },
        "Query.user": { max: 3, window: "1m", identity: "ip" },
        "Query.order": { max: 2, window: "1m", identity: "ip" },
        "Query.payment": { max: 5, window: "1m", identity: "ip", arrayLengthField: "ids" },
        "Mutation.login": { max: 100, window: "1m", identity: "ip" },
        "Mutation.placeOrder": "off",
      }),
    });
  });
  after(() => stack?.close());

  test("aliases each count as a call; an operation over the limit is refused whole and counts nothing", async () => {
    const four = `{ ${[1, 2, 3, 4].map((i) => `p${i}: product(id: "prod-00${i}") { id }`).join(" ")} }`;
    const refused = await stack.graphql(four);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.errors?.[0]?.extensions?.field, "Query.product");
    const three = `{ ${[1, 2, 3].map((i) => `p${i}: product(id: "prod-00${i}") { id }`).join(" ")} }`;
    const ok = await stack.graphql(three);
    assert.equal(ok.status, 200, "the refused operation spent nothing");
    assert.match(ok.headers.get("ratelimit") ?? "", /"Query\.product";r=0;/);
    assert.equal((await stack.graphql('{ product(id: "prod-001") { id } }')).status, 429);
  });

  test("fragments, inline fragments and @skip/@include with variables", async () => {
    const query = `
      query($skipD: Boolean!, $includeE: Boolean!) {
        a: products(first: 1) { totalCount }
        ...F
        ... on Query { c: products(first: 1) { totalCount } }
        d: products(first: 1) @skip(if: $skipD) { totalCount }
        e: products(first: 1) @include(if: $includeE) { totalCount }
      }
      fragment F on Query { b: products(first: 1) { totalCount } }`;
    // a, b, c, and e: four calls; d is skipped.
    const first = await stack.graphql(query, { skipD: true, includeE: true });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.headers.get("ratelimit") ?? "", /"Query\.products";r=0;/);
    const again = await stack.graphql("{ products(first: 1) { totalCount } }");
    assert.equal(again.status, 429);
  });

  test("skipped limited fields are not counted", async () => {
    const alice = await stack.login("alice@example.com", "alice-password");
    const query =
      'query($s: Boolean!) { x: order(id: "o-1") @skip(if: $s) { id } y: order(id: "o-2") @skip(if: $s) { id } }';
    for (let i = 0; i < 5; i++) assert.equal((await stack.graphql(query, { s: true }, alice)).status, 200);
    assert.equal((await stack.graphql(query, { s: false }, alice)).status, 200);
    assert.equal((await stack.graphql(query, { s: false }, alice)).status, 429);
  });

  test("identity: the user when signed in, else the client IP", async () => {
    const alice = await stack.login("alice@example.com", "alice-password");
    const bob = await stack.login("bob@example.com", "bob-password");
    const me = "{ me { id } }";
    assert.equal((await stack.graphql(me, {}, alice)).status, 200);
    assert.equal((await stack.graphql(me, {}, alice)).status, 200);
    assert.equal((await stack.graphql(me, {}, alice)).status, 429);
    assert.equal((await stack.graphql(me, {}, bob)).status, 200, "bob has his own budget");
  });

  test("an ip-identity limit is shared by every user of one address", async () => {
    const alice = await stack.login("alice@example.com", "alice-password");
    const bob = await stack.login("bob@example.com", "bob-password");
    const query = "query($id: ID!) { user(id: $id) { id } }";
    await stack.graphql(query, { id: "u-1" }, alice);
    await stack.graphql(query, { id: "u-1" }, bob);
    await stack.graphql(query, { id: "u-1" });
    assert.equal((await stack.graphql(query, { id: "u-1" }, bob)).status, 429);
  });

  test("declared limits can be switched off by the operator", async () => {
    const alice = await stack.login("alice@example.com", "alice-password");
    const res = await stack.graphql(
      'mutation { placeOrder(input: { items: [{ productId: "prod-003", quantity: 1 }] }) { id } }',
      {},
      alice,
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit"), null);
  });

  test("the limits in force follow the supergraph and the overrides", () => {
    const rules = stack.gateway.guards.policies().rateLimits;
    assert.equal(rules.get("Mutation.register")?.max, 5, "declared in the users subgraph");
    assert.equal(rules.get("Mutation.processPayment")?.max, 10);
    assert.equal(rules.get("Mutation.login")?.max, 100, "overridden");
    assert.equal(rules.has("Mutation.placeOrder"), false, "switched off");
  });
});

describe("production mode", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ NODE_ENV: "production" });
  });
  after(() => stack?.close());

  test("no introspection and no field suggestions", async () => {
    const introspection = await stack.graphql("{ __schema { types { name } } }");
    assert.equal(introspection.status, 400);
    assert.equal(codeOf(introspection.body), "GRAPHQL_VALIDATION_FAILED");
    const typo = await stack.graphql("{ prodcts(first: 1) { totalCount } }");
    assert.equal(codeOf(typo.body), "GRAPHQL_VALIDATION_FAILED");
    assert.doesNotMatch(JSON.stringify(typo.body), /Did you mean|products/);
  });

  test("refusals keep their codes and public extensions", async () => {
    const res = await stack.graphql(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: __typename`).join(" ")} }`);
    assert.equal(codeOf(res.body), "ALIAS_LIMIT_EXCEEDED");
    assert.deepEqual(res.body.errors?.[0]?.extensions, { code: "ALIAS_LIMIT_EXCEEDED", limit: 20, actual: 30 });
  });
});

describe("throttling, blocking, IP lists, trusted proxies, batches", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      TRUSTED_PROXIES: "127.0.0.1,::1",
      THROTTLE_EXEMPT: "none",
      THROTTLE_RPS: "1",
      THROTTLE_BURST: "3",
      BLOCK_THRESHOLD: "3",
      BLOCK_WINDOW_SECONDS: "60",
      BLOCK_DURATION_SECONDS: "120",
      IP_DENY: "203.0.113.0/24",
      IP_ALLOW: "198.51.100.0/24,203.0.113.0/24",
      BATCH_MAX: "3",
      RATE_LIMIT_OVERRIDES: "Query.product=1/1m/ip,Query.products=1/1m",
    });
  });
  after(() => stack?.close());

  const from = (ip: string) => ({ "x-forwarded-for": ip });

  test("the throttle counts every request of a client, GraphQL or not, and says when to retry", async () => {
    const client = from("198.51.100.1");
    for (let i = 0; i < 3; i++) assert.equal((await post(stack, { query: "{ __typename }" }, client)).status, 200);
    const refused = await post(stack, { query: "{ __typename }" }, client);
    assert.equal(refused.status, 429);
    assert.equal(codeOf(refused.body), "RATE_LIMITED");
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const rest = await fetch(`${stack.url}/api/products`, { headers: client });
    assert.equal(rest.status, 429, "the REST shim is throttled too");
    assert.equal(((await rest.json()) as { error: { code: string } }).error.code, "RATE_LIMITED");
    assert.equal((await post(stack, { query: "{ __typename }" }, from("198.51.100.2"))).status, 200, "others are not");
    assert.equal((await fetch(`${stack.url}/healthz`, { headers: client })).status, 200, "probes are never throttled");
  });

  test("a client that keeps hitting limits is blocked, logged and counted", async () => {
    const client = from("198.51.100.7");
    const query = { query: '{ product(id: "prod-001") { id } }' };
    assert.equal((await post(stack, query, client)).status, 200);
    // Two field refusals and a throttle refusal make three strikes.
    assert.equal((await post(stack, query, client)).status, 429);
    assert.equal((await post(stack, query, client)).status, 429);
    assert.equal((await post(stack, query, client)).status, 429);
    const blocked = await post(stack, { query: "{ __typename }" }, client);
    assert.equal(blocked.status, 429);
    const retryAfter = Number(blocked.headers.get("retry-after"));
    assert.ok(retryAfter > 100 && retryAfter <= 120, `blocked for the configured time, got ${retryAfter}`);
    const metrics = await (await fetch(`${stack.url}/metrics`, { headers: from("198.51.100.99") })).text();
    assert.match(metrics, /gateway_clients_blocked_total 1\b/);
    assert.match(metrics, /gateway_clients_blocked 1\b/);
    assert.match(metrics, /gateway_rate_limited_total\{field="Query.product"\} 2\b/);
    assert.match(metrics, /gateway_guard_refusals_total\{code="RATE_LIMITED",guard="blocked"\} 1\b/);
  });

  test("anonymous callers of a per-user limit count by their IP", async () => {
    const query = { query: "{ products(first: 1) { totalCount } }" };
    assert.equal((await post(stack, query, from("198.51.100.40"))).status, 200);
    assert.equal((await post(stack, query, from("198.51.100.40"))).status, 429);
    assert.equal((await post(stack, query, from("198.51.100.41"))).status, 200);
  });

  test("X-Forwarded-For is believed only from trusted proxies", async () => {
    // Through the trusted loopback proxy each forwarded address is its own client.
    for (let i = 0; i < 3; i++) {
      assert.equal((await post(stack, { query: "{ __typename }" }, from(`198.51.100.${20 + i}`))).status, 200);
    }
  });

  test("IP lists: denied or not allowed is FORBIDDEN; the deny list wins", async () => {
    const denied = await post(stack, { query: "{ __typename }" }, from("203.0.113.9"));
    assert.equal(denied.status, 403);
    assert.equal(codeOf(denied.body), "FORBIDDEN");
    const outside = await fetch(`${stack.url}/api/products`, { headers: from("192.0.2.5") });
    assert.equal(outside.status, 403);
    assert.equal(((await outside.json()) as { error: { code: string } }).error.code, "FORBIDDEN");
  });

  test("batches: allowed up to BATCH_MAX, then BATCH_LIMIT_EXCEEDED", async () => {
    const ok = await post(stack, [{ query: "{ __typename }" }, { query: "{ __typename }" }], from("198.51.100.30"));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 2);
    const refused = await post(
      stack,
      Array.from({ length: 4 }, () => ({ query: "{ __typename }" })),
      from("198.51.100.31"),
    );
    assert.equal(refused.status, 400);
    assert.equal(codeOf(refused.body), "BATCH_LIMIT_EXCEEDED");
  });
});

describe("untrusted forwarding", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ THROTTLE_EXEMPT: "none", THROTTLE_RPS: "1", THROTTLE_BURST: "2" });
  });
  after(() => stack?.close());

  test("without trusted proxies, a forged X-Forwarded-For does not make a new client", async () => {
    const one = await post(stack, { query: "{ __typename }" }, { "x-forwarded-for": "198.51.100.1" });
    const two = await post(stack, { query: "{ __typename }" }, { "x-forwarded-for": "198.51.100.2" });
    const three = await post(stack, { query: "{ __typename }" }, { "x-forwarded-for": "198.51.100.3" });
    assert.deepEqual([one.status, two.status, three.status], [200, 200, 429]);
  });
});
