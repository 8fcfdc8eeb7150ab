import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type Stack, startStack } from "../helpers/stack.ts";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are asserted field by field
  body: any;
}

interface Call {
  token?: string;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
}

function client(stack: () => Stack) {
  return async (method: string, path: string, call: Call = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...call.headers };
    if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
    let body = call.body;
    if (call.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(call.json);
    }
    const res = await fetch(`${stack().url}${path}`, { method, headers, ...(body !== undefined && { body }) });
    const text = await res.text();
    let parsed: unknown = null;
    if (text !== "" && res.headers.get("content-type")?.startsWith("application/json")) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
}

function assertError(answer: Answer, status: number, code: string) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body?.error?.code, code, answer.text);
  assert.equal(typeof answer.body.error.message, "string");
  assert.equal(answer.headers.get("cache-control"), "private, no-store");
}

describe("REST shim", () => {
  let stack: Stack;
  const api = client(() => stack);
  let alice: string;
  let bob: string;
  let admin: string;
  let aliceId: string;

  before(async () => {
    // Every test here comes from one IP and a few users: lift the mutation limits (the last suite
    // exercises them).
    stack = await startStack({
      RATE_LIMIT_OVERRIDES:
        "Mutation.login=10000/1m/ip,Mutation.placeOrder=10000/1m/user,Mutation.processPayment=10000/1m/user",
    });
    alice = await stack.login("alice@example.com", "alice-password");
    bob = await stack.login("bob@example.com", "bob-password");
    admin = await stack.login("admin@example.com", "admin-password");
    aliceId = (await api("GET", "/api/users/me", { token: alice })).body.id;
  });
  after(() => stack?.close());

  async function placeOrder(token: string, quantity = 1, productId = "prod-003") {
    const res = await api("POST", "/api/orders", { token, json: { items: [{ productId, quantity }] } });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; totalCents: number };
  }

  describe("users", () => {
    it("POST /api/users registers: 201, Location, token that works", async () => {
      const res = await api("POST", "/api/users", {
        json: { email: "carol@example.com", name: "Carol", password: "carol-password-1" },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.user.email, "carol@example.com");
      assert.equal(typeof res.body.token, "string");
      assert.equal(res.headers.get("location"), `/api/users/${res.body.user.id}`);
      assert.equal(res.headers.get("cache-control"), "private, no-store");
      const created = await api("GET", res.headers.get("location")!, { token: res.body.token });
      assert.equal(created.status, 200);
      assert.deepEqual(created.body, res.body.user);
    });

    it("POST /api/users refuses a taken email, missing and unknown fields, and non-objects", async () => {
      const taken = await api("POST", "/api/users", {
        json: { email: "alice@example.com", name: "A", password: "another-password-1" },
      });
      assertError(taken, 400, "BAD_USER_INPUT");
      const missing = await api("POST", "/api/users", {
        json: { email: "dan@example.com", password: "dan-password-1" },
      });
      assertError(missing, 400, "BAD_USER_INPUT");
      assert.equal(missing.body.error.field, "name");
      const unknown = await api("POST", "/api/users", {
        json: { email: "dan@example.com", name: "Dan", password: "dan-password-1", admin: true },
      });
      assertError(unknown, 400, "BAD_USER_INPUT");
      assert.equal(unknown.body.error.field, "admin");
      const wrongType = await api("POST", "/api/users", {
        json: { email: 42, name: "Dan", password: "dan-password-1" },
      });
      assertError(wrongType, 400, "BAD_USER_INPUT");
      assert.equal(wrongType.body.error.field, "email");
      assertError(await api("POST", "/api/users", { json: ["not", "an", "object"] }), 400, "BAD_USER_INPUT");
    });

    it("POST /api/users/login answers the token, 401 with a challenge on bad credentials", async () => {
      const ok = await api("POST", "/api/users/login", {
        json: { email: "bob@example.com", password: "bob-password" },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.user.email, "bob@example.com");
      assert.equal((await api("GET", "/api/users/me", { token: ok.body.token })).status, 200);

      const bad = await api("POST", "/api/users/login", {
        json: { email: "bob@example.com", password: "wrong-password" },
      });
      assertError(bad, 401, "UNAUTHENTICATED");
      assert.match(bad.headers.get("www-authenticate") ?? "", /^Bearer /);
      const missing = await api("POST", "/api/users/login", { json: { email: "bob@example.com" } });
      assertError(missing, 400, "BAD_USER_INPUT");
      assert.equal(missing.body.error.field, "password");
    });

    it("GET /api/users/me needs a valid token", async () => {
      const me = await api("GET", "/api/users/me", { token: alice });
      assert.equal(me.status, 200);
      assert.deepEqual(Object.keys(me.body).sort(), ["email", "id", "name"]);
      assert.equal(me.body.email, "alice@example.com");

      const anonymous = await api("GET", "/api/users/me");
      assertError(anonymous, 401, "UNAUTHENTICATED");
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer /);
      const invalid = await api("GET", "/api/users/me", { token: `${alice}x` });
      assertError(invalid, 401, "UNAUTHENTICATED");
      assert.match(invalid.headers.get("www-authenticate") ?? "", /invalid_token/);
    });

    it("GET /api/users/:id: self and admin yes, another customer 403, unknown 404", async () => {
      assert.equal((await api("GET", `/api/users/${aliceId}`, { token: alice })).body.email, "alice@example.com");
      assert.equal((await api("GET", `/api/users/${aliceId}`, { token: admin })).status, 200);
      assertError(await api("GET", `/api/users/${aliceId}`, { token: bob }), 403, "FORBIDDEN");
      assertError(await api("GET", "/api/users/no-such-user", { token: admin }), 404, "NOT_FOUND");
      assertError(await api("GET", `/api/users/${aliceId}`), 401, "UNAUTHENTICATED");
    });
  });

  describe("products", () => {
    it("GET /api/products pages with first/after and a Link to the next page", async () => {
      const first = await api("GET", "/api/products?first=30");
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.nodes.length, 30);
      assert.equal(first.body.totalCount, 64);
      const link = first.headers.get("link");
      assert.match(link ?? "", /^<\/api\/products\?first=30&after=[^>]+>; rel="next"$/);
      const next = await api("GET", /^<([^>]+)>/.exec(link!)![1]!);
      assert.equal(next.status, 200);
      assert.equal(next.body.nodes[0].id, "prod-031");
      const last = await api("GET", /^<([^>]+)>/.exec(next.headers.get("link")!)![1]!);
      assert.equal(last.body.nodes.length, 4);
      assert.equal(last.body.pageInfo.hasNextPage, false);
      assert.equal(last.headers.get("link"), null);
    });

    it("GET /api/products refuses typed parameters that do not parse, naming them", async () => {
      const abc = await api("GET", "/api/products?first=abc");
      assertError(abc, 400, "BAD_USER_INPUT");
      assert.equal(abc.body.error.field, "first");
      assert.equal((await api("GET", "/api/products?first=1.5")).body.error.field, "first");
      assert.equal((await api("GET", "/api/products?first=99999999999")).body.error.field, "first");
      assert.equal((await api("GET", "/api/products?first=1&first=2")).body.error.field, "first");
      // Parses, but the catalogue refuses it: the pipeline's code and status.
      assertError(await api("GET", "/api/products?first=0"), 400, "BAD_USER_INPUT");
    });

    it("GET /api/products/:id answers the product, 404 for an unknown one", async () => {
      const product = await api("GET", "/api/products/prod-001");
      assert.equal(product.status, 200);
      assert.deepEqual(Object.keys(product.body).sort(), ["currency", "id", "name", "priceCents", "stock"]);
      assert.equal(product.body.id, "prod-001");
      assertError(await api("GET", "/api/products/prod-999"), 404, "NOT_FOUND");
    });

    it("ETag and If-None-Match give 304 without a body; a stale tag gives the resource", async () => {
      const first = await api("GET", "/api/products/prod-002");
      const etag = first.headers.get("etag");
      assert.match(etag ?? "", /^"[^"]+"$/);
      const again = await api("GET", "/api/products/prod-002", { headers: { "if-none-match": etag! } });
      assert.equal(again.status, 304);
      assert.equal(again.text, "");
      assert.equal(again.headers.get("etag"), etag);
      const weakList = await api("GET", "/api/products/prod-002", { headers: { "if-none-match": `"x", W/${etag}` } });
      assert.equal(weakList.status, 304);
      const stale = await api("GET", "/api/products/prod-002", { headers: { "if-none-match": '"stale"' } });
      assert.equal(stale.status, 200);
      assert.equal(stale.body.id, "prod-002");
    });

    it("HEAD answers every GET with its headers and no body", async () => {
      const get = await api("GET", "/api/products/prod-004");
      const head = await api("HEAD", "/api/products/prod-004");
      assert.equal(head.status, 200);
      assert.equal(head.text, "");
      assert.equal(head.headers.get("etag"), get.headers.get("etag"));
      assert.equal(head.headers.get("content-length"), get.headers.get("content-length"));
      const conditional = await api("HEAD", "/api/products/prod-004", {
        headers: { "if-none-match": get.headers.get("etag")! },
      });
      assert.equal(conditional.status, 304);
      assert.equal((await api("HEAD", "/api/products?first=2")).headers.get("link")?.includes('rel="next"'), true);
      assert.equal((await api("HEAD", "/api/users/me", { token: alice })).status, 200);
      assert.equal((await api("HEAD", "/api/products/prod-999")).status, 404);
      assert.equal((await api("HEAD", "/api/openapi.json")).status, 200);
    });

    it("Cache-Control: anonymous reads revalidate; anything with credentials is private, no-store", async () => {
      const anonymous = await api("GET", "/api/products/prod-001");
      assert.equal(anonymous.headers.get("cache-control"), "no-cache");
      assert.match(anonymous.headers.get("vary") ?? "", /Authorization/i);
      const signedIn = await api("GET", "/api/products/prod-001", { token: alice });
      assert.equal(signedIn.headers.get("cache-control"), "private, no-store");
      assert.match(signedIn.headers.get("vary") ?? "", /Authorization/i);
      assert.equal(
        (await api("GET", "/api/users/me", { token: alice })).headers.get("cache-control"),
        "private, no-store",
      );
    });
  });

  describe("orders", () => {
    it("POST /api/orders places an order: 201 and a Location that reads it back", async () => {
      const res = await api("POST", "/api/orders", {
        token: alice,
        json: { items: [{ productId: "prod-001", quantity: 2 }] },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.status, "PENDING");
      assert.equal(res.body.user.id, aliceId);
      assert.equal(res.body.items[0].product.id, "prod-001");
      assert.equal(res.headers.get("location"), `/api/orders/${res.body.id}`);
      const read = await api("GET", res.headers.get("location")!, { token: alice });
      assert.equal(read.status, 200);
      assert.equal(read.body.id, res.body.id);
      assert.equal(read.body.totalCents, res.body.totalCents);
      assert.equal(read.body.items[0].product.name, "Classic Cotton T-Shirt");
      assert.equal(read.body.payment, null);
    });

    it("POST /api/orders: 401 anonymous, 400 bad lines, 409 not enough stock", async () => {
      assertError(
        await api("POST", "/api/orders", { json: { items: [{ productId: "prod-001", quantity: 1 }] } }),
        401,
        "UNAUTHENTICATED",
      );
      const badQuantity = await api("POST", "/api/orders", {
        token: alice,
        json: { items: [{ productId: "prod-001", quantity: "two" }] },
      });
      assertError(badQuantity, 400, "BAD_USER_INPUT");
      assert.equal(badQuantity.body.error.field, "items[0].quantity");
      assertError(await api("POST", "/api/orders", { token: alice, json: {} }), 400, "BAD_USER_INPUT");
      const tooMany = await api("POST", "/api/orders", {
        token: alice,
        json: { items: [{ productId: "prod-005", quantity: 1000 }] },
      });
      assertError(tooMany, 409, "INSUFFICIENT_STOCK");
      assert.equal(tooMany.body.error.productId, "prod-005");
    });

    it("GET /api/orders lists my orders only; GET /api/orders/:id is owner or admin", async () => {
      const mine = await placeOrder(alice);
      const theirs = await placeOrder(bob);
      const list = await api("GET", "/api/orders", { token: alice });
      assert.equal(list.status, 200);
      assert.ok(Array.isArray(list.body));
      assert.ok(list.body.some((o: { id: string }) => o.id === mine.id));
      assert.ok(!list.body.some((o: { id: string }) => o.id === theirs.id));
      assertError(await api("GET", "/api/orders"), 401, "UNAUTHENTICATED");

      assertError(await api("GET", `/api/orders/${theirs.id}`, { token: alice }), 403, "FORBIDDEN");
      assert.equal((await api("GET", `/api/orders/${theirs.id}`, { token: admin })).status, 200);
      assertError(await api("GET", "/api/orders/no-such-order", { token: alice }), 404, "NOT_FOUND");
    });
  });

  describe("payments", () => {
    it("POST /api/payments/process with an Idempotency-Key header charges once", async () => {
      const order = await placeOrder(alice);
      const pay = (key: string) =>
        api("POST", "/api/payments/process", {
          token: alice,
          headers: { "idempotency-key": key },
          json: { orderId: order.id, paymentMethod: "pm_card_ok" },
        });
      const first = await pay(`key-${order.id}`);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.status, "SUCCEEDED");
      assert.equal(first.body.amountCents, order.totalCents);
      assert.equal(first.body.order.id, order.id);
      const retry = await pay(`key-${order.id}`);
      assert.equal(retry.status, 200);
      assert.equal(retry.body.id, first.body.id);

      const read = await api("GET", `/api/payments/${first.body.id}`, { token: alice });
      assert.equal(read.status, 200);
      assert.equal(read.body.status, "SUCCEEDED");
      assert.equal((await api("GET", `/api/orders/${order.id}`, { token: alice })).body.status, "PAID");
      assertError(await api("GET", `/api/payments/${first.body.id}`, { token: bob }), 403, "FORBIDDEN");
      assertError(await api("GET", "/api/payments/no-such-payment", { token: alice }), 404, "NOT_FOUND");
    });

    it("takes the key from the body too; refuses a missing or contradicting key", async () => {
      const order = await placeOrder(alice);
      const body = { orderId: order.id, paymentMethod: "pm_card_ok", idempotencyKey: `body-${order.id}` };
      const paid = await api("POST", "/api/payments/process", { token: alice, json: body });
      assert.equal(paid.status, 200, paid.text);
      const same = await api("POST", "/api/payments/process", {
        token: alice,
        headers: { "idempotency-key": body.idempotencyKey },
        json: body,
      });
      assert.equal(same.body.id, paid.body.id);
      const contradicting = await api("POST", "/api/payments/process", {
        token: alice,
        headers: { "idempotency-key": "another-key" },
        json: body,
      });
      assertError(contradicting, 400, "BAD_USER_INPUT");
      assert.equal(contradicting.body.error.field, "Idempotency-Key");
      const none = await api("POST", "/api/payments/process", {
        token: alice,
        json: { orderId: order.id, paymentMethod: "pm_card_ok" },
      });
      assertError(none, 400, "BAD_USER_INPUT");
      assert.equal(none.body.error.field, "idempotencyKey");
    });

    it("a declined card is 402 PAYMENT_DECLINED; paying an unknown order 404", async () => {
      const order = await placeOrder(alice);
      const declined = await api("POST", "/api/payments/process", {
        token: alice,
        headers: { "idempotency-key": `decline-${order.id}` },
        json: { orderId: order.id, paymentMethod: "pm_card_declined" },
      });
      assertError(declined, 402, "PAYMENT_DECLINED");
      assert.equal(typeof declined.body.error.declineCode, "string");
      const unknown = await api("POST", "/api/payments/process", {
        token: alice,
        headers: { "idempotency-key": "unknown-order" },
        json: { orderId: "no-such-order", paymentMethod: "pm_card_ok" },
      });
      assertError(unknown, 404, "NOT_FOUND");
      assertError(
        await api("POST", "/api/payments/process", {
          headers: { "idempotency-key": "anonymous" },
          json: { orderId: order.id, paymentMethod: "pm_card_ok" },
        }),
        401,
        "UNAUTHENTICATED",
      );
    });
  });

  describe("HTTP", () => {
    it("405 with Allow for a known path and another method; OPTIONS lists the methods", async () => {
      const del = await api("DELETE", "/api/products/prod-001");
      assertError(del, 405, "METHOD_NOT_ALLOWED");
      assert.equal(del.headers.get("allow"), "GET, HEAD, OPTIONS");
      const getLogin = await api("GET", "/api/users/login");
      assertError(getLogin, 405, "METHOD_NOT_ALLOWED");
      assert.equal(getLogin.headers.get("allow"), "POST, OPTIONS");
      assert.equal((await api("PUT", "/api/orders", { token: alice, json: {} })).status, 405);
      assert.equal((await api("POST", "/api/users/me", { json: {} })).status, 405);
      assert.equal((await api("GET", "/api/payments/process")).status, 405);
      const options = await api("OPTIONS", "/api/orders");
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
    });

    it("unknown /api paths are 404 in the error format", async () => {
      assertError(await api("GET", "/api/nothing/here"), 404, "NOT_FOUND");
    });

    it("415 for a body that is not JSON, 400 for JSON that does not parse", async () => {
      const login = JSON.stringify({ email: "bob@example.com", password: "bob-password" });
      const text = await api("POST", "/api/users/login", { headers: { "content-type": "text/plain" }, body: login });
      assertError(text, 415, "UNSUPPORTED_MEDIA_TYPE");
      const form = await api("POST", "/api/users/login", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "email=bob%40example.com",
      });
      assertError(form, 415, "UNSUPPORTED_MEDIA_TYPE");
      assertError(
        await api("POST", "/api/users/login", { headers: { "content-type": "application/json" }, body: "{nope" }),
        400,
        "BAD_REQUEST",
      );
      const charset = await api("POST", "/api/users/login", {
        headers: { "content-type": "application/json; charset=utf-8" },
        body: login,
      });
      assert.equal(charset.status, 200);
    });

    it("413 past the body size limit", async () => {
      const res = await api("POST", "/api/users", {
        json: { email: "big@example.com", name: "x".repeat(70_000), password: "big-password-1" },
      });
      assertError(res, 413, "PAYLOAD_TOO_LARGE");
    });

    it("runs through the same pipeline as /graphql: same answers, same authentication", async () => {
      const rest = await api("GET", "/api/products/prod-010");
      const graphql = await stack.graphql<{ product: unknown }>(
        '{ product(id: "prod-010") { id name priceCents currency stock } }',
      );
      assert.deepEqual(rest.body, graphql.body.data?.product);
      // The caller's request id reaches the pipeline and comes back, as on /graphql.
      const traced = await api("GET", "/api/products/prod-010", { headers: { "x-request-id": "rest-test-1" } });
      assert.equal(traced.headers.get("x-request-id"), "rest-test-1");
      // The context builder (authentication) runs for REST requests: a bad token is refused before execution.
      const refused = await api("GET", "/api/products/prod-010", { token: "not-a-jwt" });
      assertError(refused, 401, "UNAUTHENTICATED");
    });
  });

  describe("OpenAPI", () => {
    it("GET /api/openapi.json is a valid OpenAPI 3.1 document covering every route", async () => {
      const res = await api("GET", "/api/openapi.json");
      assert.equal(res.status, 200);
      assert.ok(res.headers.get("etag"));
      const document = res.body;
      assert.equal(document.openapi, "3.1.0");
      const result = await new Validator().validate(document);
      assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));

      const operations = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
      );
      for (const expected of [
        "POST /api/users",
        "POST /api/users/login",
        "GET /api/users/me",
        "GET /api/users/{id}",
        "GET /api/products",
        "GET /api/products/{id}",
        "GET /api/orders",
        "GET /api/orders/{id}",
        "POST /api/orders",
        "POST /api/payments/process",
        "GET /api/payments/{id}",
        "GET /api/openapi.json",
      ]) {
        assert.ok(operations.includes(expected), `${expected} missing from ${operations.join(", ")}`);
      }
      assert.deepEqual(document.components.securitySchemes.bearerAuth, {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: document.components.securitySchemes.bearerAuth.description,
      });
      const placeOrder = document.paths["/api/orders"].post;
      assert.deepEqual(placeOrder.security, [{ bearerAuth: [] }]);
      assert.ok(placeOrder.responses["201"].headers.Location);
      assert.equal(
        placeOrder.requestBody.content["application/json"].schema.$ref,
        "#/components/schemas/PlaceOrderInput",
      );
      const product = document.paths["/api/products/{id}"].get.responses["200"].content["application/json"].schema;
      assert.deepEqual(product.required.sort(), ["currency", "id", "name", "priceCents", "stock"]);
      assert.equal(product.properties.priceCents.type, "integer");
      const first = document.paths["/api/products"].get.parameters.find((p: { name: string }) => p.name === "first");
      assert.equal(first.schema.type, "integer");
      const payment = document.paths["/api/payments/process"].post;
      const paymentBody = payment.requestBody.content["application/json"].schema;
      assert.ok(!paymentBody.required.includes("idempotencyKey"));
      assert.ok(
        payment.parameters.some((p: { name: string; in: string }) => p.name === "Idempotency-Key" && p.in === "header"),
      );
      assert.ok(payment.responses["402"]);
      assert.ok(payment.responses["429"]);
    });
  });
});

describe("REST shim rate limits", () => {
  let stack: Stack;
  const api = client(() => stack);
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  it("login is rate limited per IP: 429 RATE_LIMITED with Retry-After and the rate-limit headers", async () => {
    let limited: Answer | undefined;
    // Default policy: a handful of logins per minute per IP; stop at the first refusal.
    for (let attempt = 0; attempt < 20 && !limited; attempt++) {
      const res = await api("POST", "/api/users/login", {
        json: { email: "bob@example.com", password: "wrong-password" },
      });
      if (res.status === 429) limited = res;
      else assert.equal(res.status, 401, res.text);
    }
    assert.ok(limited, "no 429 after 20 logins from one IP");
    assertError(limited, 429, "RATE_LIMITED");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${limited.headers.get("retry-after")}`);
    assert.ok(limited.headers.get("ratelimit") ?? limited.headers.get("ratelimit-policy"), "rate-limit headers");
    // A correct password is refused too while the window lasts: the limit is on the operation.
    const good = await api("POST", "/api/users/login", {
      json: { email: "bob@example.com", password: "bob-password" },
    });
    assert.equal(good.status, 429);
  });
});
