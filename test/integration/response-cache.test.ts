import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { REDIS_URL, redisSkip } from "../helpers/redis.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const CATALOGUE = "query Catalogue { products(first: 5) { nodes { id name stock } totalCount } }";
const PRODUCT = 'query One { product(id: "prod-001") { id name stock } }';

describe("response cache: whole PUBLIC answers", () => {
  let stack: Stack;
  let admin: string;
  let alice: string;

  before(async () => {
    stack = await startStack({ RATE_LIMIT_OVERRIDES: "Mutation.login=1000/1m/ip,Mutation.placeOrder=1000/1m/user" });
    admin = await stack.login("admin@example.com", "admin-password");
    alice = await stack.login("alice@example.com", "alice-password");
  });
  after(() => stack?.close());

  test("a public query is answered from the cache the second time, with Age and Cache-Control", async () => {
    const before = stack.products.db.queryCount;
    const first = await stack.graphql(CATALOGUE);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("age"), null);
    assert.match(first.headers.get("cache-control") ?? "", /max-age=30, public/);
    const afterFirst = stack.products.db.queryCount;
    assert.ok(afterFirst > before, "the first answer came from the products subgraph");

    const second = await stack.graphql(CATALOGUE);
    assert.deepEqual(second.body, first.body);
    assert.equal(stack.products.db.queryCount, afterFirst, "the second answer did not reach the subgraph");
    assert.match(second.headers.get("age") ?? "", /^\d+$/);
    assert.match(second.headers.get("cache-control") ?? "", /max-age=\d+, public/);

    // A signed-in caller asking the same open question shares the public answer.
    const signedIn = await stack.graphql(CATALOGUE, {}, alice);
    assert.deepEqual(signedIn.body, first.body);
    assert.equal(stack.products.db.queryCount, afterFirst);
  });

  test("a mutation through the gateway invalidates: the catalogue shows the new stock at once", async () => {
    const seen = await stack.graphql<{ product: { stock: number } }>(PRODUCT);
    await stack.graphql(PRODUCT); // cached now
    const stock = seen.body.data!.product.stock;
    const updated = await stack.graphql(
      'mutation { updateProduct(id: "prod-001", input: { stock: 777 }) { id stock } }',
      {},
      admin,
    );
    assert.equal(updated.body.errors, undefined, JSON.stringify(updated.body));
    const fresh = await stack.graphql<{ product: { stock: number } }>(PRODUCT);
    assert.equal(fresh.body.data!.product.stock, 777);
    assert.notEqual(stock, 777);
    assert.equal(fresh.headers.get("age"), null, "served fresh, not from the cache");

    // Stock taken by an order is a change too.
    await stack.graphql(PRODUCT);
    const placed = await stack.graphql(
      'mutation { placeOrder(input: { items: [{ productId: "prod-001", quantity: 2 }] }) { id } }',
      {},
      alice,
    );
    assert.equal(placed.body.errors, undefined, JSON.stringify(placed.body));
    const afterOrder = await stack.graphql<{ product: { stock: number } }>(PRODUCT);
    assert.equal(afterOrder.body.data!.product.stock, 775);
  });

  test("private and authenticated-only answers are never cached", async () => {
    const me = "query Me { me { id name } }";
    const first = await stack.graphql(me, {}, alice);
    const second = await stack.graphql(me, {}, alice);
    assert.equal(second.headers.get("age"), null);
    assert.doesNotMatch(second.headers.get("cache-control") ?? "", /public/);
    assert.deepEqual(second.body, first.body);
    // An anonymous caller asking the same gets no one's cached answer.
    const anonymous = await stack.graphql(me);
    assert.equal((anonymous.body.data as { me: unknown } | null)?.me ?? null, null);

    // An open query mixed with a field that needs a token is never shared, whoever asks.
    const mixed = 'query Mixed { product(id: "prod-002") { id name } me { id } }';
    await stack.graphql(mixed, {}, alice);
    const again = await stack.graphql(mixed, {}, alice);
    assert.equal(again.headers.get("age"), null);
    const anon = await stack.graphql<{ me: unknown }>(mixed);
    assert.equal(anon.headers.get("age"), null);
    assert.equal(anon.body.data?.me ?? null, null);
  });
});

describe("response cache off", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ RESPONSE_CACHE: "false" });
  });
  after(() => stack?.close());

  test("RESPONSE_CACHE=false: every answer comes from the subgraph", async () => {
    await stack.graphql(CATALOGUE);
    const before = stack.products.db.queryCount;
    const second = await stack.graphql(CATALOGUE);
    assert.equal(second.headers.get("age"), null);
    assert.ok(stack.products.db.queryCount > before);
  });
});

const skip = redisSkip;

describe("response cache in Redis, shared by two gateways", { skip }, () => {
  let a: Stack;
  let b: Stack;
  const env = { REDIS_URL, RESPONSE_CACHE_KEY_PREFIX: `test:${randomUUID()}:` };
  before(async () => {
    [a, b] = await Promise.all([startStack(env), startStack(env)]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${env.RESPONSE_CACHE_KEY_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  test("an answer cached by one gateway serves the other; a mutation on either invalidates both", async () => {
    const first = await a.graphql(PRODUCT);
    assert.equal(first.headers.get("age"), null);
    // The cache is written in the background: poll, bounded, until the other gateway is served from it.
    const before = b.products.db.queryCount;
    let shared = await b.graphql(PRODUCT);
    for (let i = 0; i < 50 && shared.headers.get("age") === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      shared = await b.graphql(PRODUCT);
    }
    assert.match(shared.headers.get("age") ?? "", /^\d+$/, "gateway b answered from a's entry");
    assert.deepEqual(shared.body, first.body);
    assert.ok(b.products.db.queryCount - before <= 1, "b reached its subgraph at most while a's entry was written");

    const admin = await b.login("admin@example.com", "admin-password");
    const updated = await b.graphql(
      'mutation { updateProduct(id: "prod-001", input: { stock: 5 }) { id } }',
      {},
      admin,
    );
    assert.equal(updated.body.errors, undefined, JSON.stringify(updated.body));
    // Gateway a hears of it through Redis: bounded wait until its cached answer is gone.
    let fresh = await a.graphql(PRODUCT);
    for (let i = 0; i < 50 && fresh.headers.get("age") !== null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      fresh = await a.graphql(PRODUCT);
    }
    assert.equal(fresh.headers.get("age"), null, "a no longer serves the answer cached before the mutation");
  });
});
