import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { parse } from "graphql";
import { sql } from "kysely";
import { pino } from "pino";
import { createProviderSandbox, type ProviderSandbox } from "../../sandbox/server.ts";
import { canRead, type Identity, isPeer } from "../../subgraphs/kit/identity.ts";
import { createSubgraphService, type SubgraphService } from "../../subgraphs/kit/server.ts";
import { createPaymentProvider } from "../../subgraphs/payments/provider.ts";
import { createPaymentsService, type PaymentsService } from "../../subgraphs/payments/server.ts";
import { badInput, forbidden, notFound } from "../../subgraphs/shared/errors.ts";
import { testDatabase } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";

const silent = pino({ level: "silent" });
const API_KEY = "sk_test_payments_unit";

interface DoubleOrder {
  id: string;
  userId: string;
  totalCents: number;
  currency: string;
  status: "PENDING" | "PAID" | "CANCELLED";
  paymentId: string | null;
}

/**
 * TEST DOUBLE for the orders subgraph: a real HTTP subgraph with the part of the orders schema
 * payments calls (order, markOrderPaid), backed by a Map. It records every markOrderPaid call and
 * can be told to fail the next ones.
 */
async function startOrdersDouble() {
  const orders = new Map<string, DoubleOrder>();
  const markPaidCalls: { orderId: string; paymentId: string }[] = [];
  const state = { failMarkPaid: 0 };
  const typeDefs = parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
    type Query { order(id: ID!): Order }
    type Mutation { markOrderPaid(orderId: ID!, paymentId: ID!): Order! }
    enum OrderStatus { PENDING PAID CANCELLED }
    type Order @key(fields: "id") {
      id: ID!
      user: User!
      totalCents: Int!
      currency: String!
      status: OrderStatus!
    }
    type User @key(fields: "id") { id: ID! }
  `);
  type Ctx = { identity: Identity };
  const service: SubgraphService = await createSubgraphService({
    name: "orders",
    typeDefs,
    createLoaders: () => ({}),
    identityKeys: testKeys.forService("orders"),
    logger: silent,
    resolvers: {
      Query: {
        order: (_: unknown, args: { id: string }, ctx: Ctx) => {
          const order = orders.get(args.id);
          if (!order) return null;
          if (!canRead(ctx.identity, order.userId)) throw forbidden();
          return order;
        },
      },
      Mutation: {
        markOrderPaid: (_: unknown, args: { orderId: string; paymentId: string }, ctx: Ctx) => {
          if (!isPeer(ctx.identity, "payments")) throw forbidden("peer services only");
          markPaidCalls.push({ orderId: args.orderId, paymentId: args.paymentId });
          if (state.failMarkPaid > 0) {
            state.failMarkPaid--;
            throw new Error("orders double told to fail");
          }
          const order = orders.get(args.orderId);
          if (!order) throw notFound("no such order");
          if (order.status === "CANCELLED") throw badInput("cancelled", "orderId");
          if (order.status === "PENDING") Object.assign(order, { status: "PAID", paymentId: args.paymentId });
          return order;
        },
      },
      Order: { user: (order: DoubleOrder) => ({ id: order.userId }) },
    },
  });
  const url = await service.listen(0);
  return {
    url,
    orders,
    markPaidCalls,
    state,
    add(userId: string, fields: Partial<DoubleOrder> = {}): DoubleOrder {
      const order: DoubleOrder = {
        id: randomUUID(),
        userId,
        totalCents: 2500,
        currency: "USD",
        status: "PENDING",
        paymentId: null,
        ...fields,
      };
      orders.set(order.id, order);
      return order;
    },
    close: () => service.close(),
  };
}

interface GqlError {
  message: string;
  extensions?: { code?: string; field?: string; declineCode?: string; paymentId?: string };
}
interface GqlBody<T> {
  data?: T | null;
  errors?: GqlError[];
}
interface PaymentView {
  id: string;
  status: string;
  amountCents: number;
  currency: string;
  order: { id: string };
}

const ALICE = "user-alice";
const BOB = "user-bob";
const ADMIN = "user-admin";

const PAY = `mutation($input: ProcessPaymentInput!) {
  processPayment(input: $input) { id status amountCents currency order { id } }
}`;

describe("payments subgraph", () => {
  let sandbox: ProviderSandbox;
  let double: Awaited<ReturnType<typeof startOrdersDouble>>;
  let payments: PaymentsService;
  let url: string;
  let sandboxUrl: string;

  before(async () => {
    sandbox = createProviderSandbox({ apiKey: API_KEY, logger: silent });
    sandboxUrl = await sandbox.listen(0);
    double = await startOrdersDouble();
    payments = await createPaymentsService({
      ...testDatabase(),
      identityKeys: testKeys.forService("payments"),
      ordersUrl: double.url,
      provider: { url: sandboxUrl, apiKey: API_KEY, retryDelayMs: 1 },
      logger: silent,
    });
    url = await payments.listen(0);
  });

  after(async () => {
    await payments?.close();
    await double?.close();
    await sandbox?.close();
  });

  async function gql<T>(
    query: string,
    variables: Record<string, unknown>,
    as: Partial<Identity> | null,
  ): Promise<GqlBody<T>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    // A peer signs as itself; everyone else comes through the gateway.
    if (as) headers["x-identity-token"] = await testKeys.sign(as, "payments", as.service ?? "gateway");
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as GqlBody<T>;
  }

  const user = (userId: string) => ({ userId, scopes: new Set(["orders:read", "orders:write"]) });
  const admin = { userId: ADMIN, scopes: new Set(["admin"]) };
  const peer = { service: "orders", scopes: new Set(["internal"]) };

  const pay = (
    input: { orderId: string; idempotencyKey: string; paymentMethod: string },
    as: Partial<Identity> = user(ALICE),
  ) => gql<{ processPayment: PaymentView }>(PAY, { input }, as);

  const code = (body: GqlBody<unknown>) => body.errors?.[0]?.extensions?.code;
  const rowsFor = (orderId: string) =>
    payments.db.all<{ id: string; status: string; failure_code: string | null; provider_payment_id: string | null }>(
      sql`SELECT id, status, failure_code, provider_payment_id FROM payments WHERE order_id = ${orderId}`,
    );

  test("a successful payment charges once, marks the order paid and can be read back", async () => {
    const order = double.add(ALICE, { totalCents: 4321, currency: "EUR" });
    const charges = sandbox.stats().charges;
    const res = await pay({ orderId: order.id, idempotencyKey: `ok-${order.id}`, paymentMethod: "pm_card_ok" });
    assert.equal(res.errors, undefined);
    const payment = res.data!.processPayment;
    assert.equal(payment.status, "SUCCEEDED");
    assert.equal(payment.amountCents, 4321);
    assert.equal(payment.currency, "EUR");
    assert.equal(payment.order.id, order.id);
    assert.equal(sandbox.stats().charges - charges, 1);
    assert.deepEqual(
      double.markPaidCalls.filter((c) => c.orderId === order.id),
      [{ orderId: order.id, paymentId: payment.id }],
    );
    assert.equal(double.orders.get(order.id)!.status, "PAID");
    const [row] = await rowsFor(order.id);
    assert.equal(row!.status, "SUCCEEDED");
    assert.match(row!.provider_payment_id ?? "", /^pi_/);

    const read = await gql<{ payment: PaymentView | null }>(
      "query($id: ID!) { payment(id: $id) { id status amountCents } }",
      { id: payment.id },
      user(ALICE),
    );
    assert.deepEqual(read.data?.payment, { id: payment.id, status: "SUCCEEDED", amountCents: 4321 });
  });

  test("the same key again returns the same payment without a new charge", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: `again-${order.id}`, paymentMethod: "pm_card_ok" };
    const first = await pay(input);
    const charges = sandbox.stats().charges;
    const second = await pay(input);
    assert.equal(second.errors, undefined);
    assert.equal(second.data!.processPayment.id, first.data!.processPayment.id);
    assert.equal(second.data!.processPayment.status, "SUCCEEDED");
    assert.equal(sandbox.stats().charges, charges);
    assert.equal((await rowsFor(order.id)).length, 1);
  });

  test("a declined card is PAYMENT_DECLINED, keeps the FAILED payment and leaves the order unpaid", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: `decline-${order.id}`, paymentMethod: "pm_card_declined" };
    const charges = sandbox.stats();
    const res = await pay(input);
    assert.equal(res.data, null);
    assert.equal(code(res), "PAYMENT_DECLINED");
    assert.equal(res.errors![0]!.extensions?.declineCode, "generic_decline");
    assert.equal(sandbox.stats().failed - charges.failed, 1);
    assert.equal(double.orders.get(order.id)!.status, "PENDING");
    assert.equal(double.markPaidCalls.filter((c) => c.orderId === order.id).length, 0);
    const rows = await rowsFor(order.id);
    assert.deepEqual(
      rows.map((r) => [r.status, r.failure_code]),
      [["FAILED", "generic_decline"]],
    );

    // The same key gives the same answer, and asks the provider nothing.
    const afterFirst = sandbox.stats();
    const again = await pay(input);
    assert.equal(code(again), "PAYMENT_DECLINED");
    assert.equal(again.errors![0]!.extensions?.paymentId, rows[0]!.id);
    assert.deepEqual(sandbox.stats(), afterFirst);

    // The failed payment is readable; a new key with a good card can still pay the order.
    const read = await gql<{ payment: { status: string } | null }>(
      "query($id: ID!) { payment(id: $id) { status } }",
      { id: rows[0]!.id },
      user(ALICE),
    );
    assert.equal(read.data?.payment?.status, "FAILED");
    const retry = await pay({ ...input, idempotencyKey: `decline-retry-${order.id}`, paymentMethod: "pm_card_visa" });
    assert.equal(retry.data?.processPayment.status, "SUCCEEDED");
    assert.equal(double.orders.get(order.id)!.status, "PAID");
  });

  test("10 concurrent requests with one key make one charge, one row and one answer", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: `race-${order.id}`, paymentMethod: "pm_card_ok" };
    const charges = sandbox.stats().charges;
    const results = await Promise.all(Array.from({ length: 10 }, () => pay(input)));
    for (const r of results) assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const ids = new Set(results.map((r) => r.data!.processPayment.id));
    assert.equal(ids.size, 1);
    assert.equal(sandbox.stats().charges - charges, 1);
    assert.equal((await rowsFor(order.id)).length, 1);
    assert.equal(double.orders.get(order.id)!.paymentId, [...ids][0]);
  });

  test("a key already used for another order is BAD_USER_INPUT on idempotencyKey", async () => {
    const first = double.add(ALICE);
    const second = double.add(ALICE);
    const key = `reuse-${first.id}`;
    assert.equal(
      (await pay({ orderId: first.id, idempotencyKey: key, paymentMethod: "pm_card_ok" })).errors,
      undefined,
    );
    const charges = sandbox.stats().charges;
    const res = await pay({ orderId: second.id, idempotencyKey: key, paymentMethod: "pm_card_ok" });
    assert.equal(code(res), "BAD_USER_INPUT");
    assert.equal(res.errors![0]!.extensions?.field, "idempotencyKey");
    assert.equal(sandbox.stats().charges, charges);
    assert.equal(double.orders.get(second.id)!.status, "PENDING");
  });

  test("keys are per user: another user's same key is theirs", async () => {
    const mine = double.add(ALICE);
    const theirs = double.add(BOB);
    const key = `shared-key-${mine.id}`;
    const a = await pay({ orderId: mine.id, idempotencyKey: key, paymentMethod: "pm_card_ok" });
    const b = await pay({ orderId: theirs.id, idempotencyKey: key, paymentMethod: "pm_card_ok" }, user(BOB));
    assert.equal(b.errors, undefined);
    assert.notEqual(a.data!.processPayment.id, b.data!.processPayment.id);
  });

  test("another user's order is FORBIDDEN; an admin may pay it and its owner then sees the payment", async () => {
    const order = double.add(BOB);
    const charges = sandbox.stats().charges;
    const res = await pay({ orderId: order.id, idempotencyKey: `bobs-${order.id}`, paymentMethod: "pm_card_ok" });
    assert.equal(code(res), "FORBIDDEN");
    assert.equal(sandbox.stats().charges, charges);
    assert.equal((await rowsFor(order.id)).length, 0);

    const paid = await pay(
      { orderId: order.id, idempotencyKey: `admin-${order.id}`, paymentMethod: "pm_card_ok" },
      admin,
    );
    assert.equal(paid.errors, undefined);
    const id = paid.data!.processPayment.id;
    const q = "query($id: ID!) { payment(id: $id) { id } }";
    assert.equal((await gql<{ payment: { id: string } }>(q, { id }, user(BOB))).data?.payment.id, id);
    assert.equal(code(await gql(q, { id }, user(ALICE))), "FORBIDDEN");
  });

  test("an unknown order is NOT_FOUND", async () => {
    const res = await pay({ orderId: randomUUID(), idempotencyKey: "unknown-order", paymentMethod: "pm_card_ok" });
    assert.equal(code(res), "NOT_FOUND");
  });

  test("paid and cancelled orders are BAD_USER_INPUT and charge nothing", async () => {
    const charges = sandbox.stats().charges;
    for (const status of ["PAID", "CANCELLED"] as const) {
      const order = double.add(ALICE, { status });
      const res = await pay({ orderId: order.id, idempotencyKey: `closed-${order.id}`, paymentMethod: "pm_card_ok" });
      assert.equal(code(res), "BAD_USER_INPUT", status);
      assert.equal(res.errors![0]!.extensions?.field, "orderId");
    }
    assert.equal(sandbox.stats().charges, charges);
  });

  test("malformed keys and payment methods are BAD_USER_INPUT naming the field", async () => {
    const order = double.add(ALICE);
    const cases: [string, string, string][] = [
      ["", "pm_card_ok", "idempotencyKey"],
      ["k".repeat(256), "pm_card_ok", "idempotencyKey"],
      ["clé", "pm_card_ok", "idempotencyKey"],
      ["tab\there", "pm_card_ok", "idempotencyKey"],
      ["fine-key", "", "paymentMethod"],
      ["fine-key", "p".repeat(256), "paymentMethod"],
    ];
    for (const [idempotencyKey, paymentMethod, field] of cases) {
      const res = await pay({ orderId: order.id, idempotencyKey, paymentMethod });
      assert.equal(code(res), "BAD_USER_INPUT", `${idempotencyKey}/${paymentMethod}`);
      assert.equal(res.errors![0]!.extensions?.field, field);
    }
    assert.equal((await rowsFor(order.id)).length, 0);
    const longest = await pay({ orderId: order.id, idempotencyKey: "k".repeat(255), paymentMethod: "pm_card_ok" });
    assert.equal(longest.errors, undefined);
  });

  test("an unknown payment method is BAD_USER_INPUT and frees the key for a corrected retry", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: `bogus-${order.id}`, paymentMethod: "pm_card_bogus" };
    const res = await pay(input);
    assert.equal(code(res), "BAD_USER_INPUT");
    assert.equal(res.errors![0]!.extensions?.field, "paymentMethod");
    assert.equal((await rowsFor(order.id)).length, 0);
    const fixed = await pay({ ...input, paymentMethod: "pm_card_ok" });
    assert.equal(fixed.data?.processPayment.status, "SUCCEEDED");
  });

  test("processPayment needs a signed-in user", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: "anon", paymentMethod: "pm_card_ok" };
    assert.equal(code(await gql(PAY, { input }, null)), "UNAUTHENTICATED");
    assert.equal(code(await gql(PAY, { input }, peer)), "UNAUTHENTICATED");
  });

  test("when orders cannot be marked paid it is SUBGRAPH_UNAVAILABLE, and the same key completes it", async () => {
    const order = double.add(ALICE);
    const input = { orderId: order.id, idempotencyKey: `mark-${order.id}`, paymentMethod: "pm_card_ok" };
    const charges = sandbox.stats().charges;
    double.state.failMarkPaid = 1;
    const res = await pay(input);
    assert.equal(code(res), "SUBGRAPH_UNAVAILABLE");
    assert.equal(double.orders.get(order.id)!.status, "PENDING");
    const retry = await pay(input);
    assert.equal(retry.data?.processPayment.status, "SUCCEEDED");
    assert.equal(double.orders.get(order.id)!.status, "PAID");
    assert.equal(double.orders.get(order.id)!.paymentId, retry.data!.processPayment.id);
    assert.equal(sandbox.stats().charges - charges, 1);
  });

  test("a payment in progress under another key keeps a second key from charging the order", async () => {
    const order = double.add(ALICE);
    const now = new Date().toISOString();
    await payments.db.run(sql`INSERT INTO payments (id, user_id, order_id, order_owner_id, idempotency_key, amount_cents, currency, status, created_at, updated_at)
       VALUES (${randomUUID()}, ${ALICE}, ${order.id}, ${ALICE}, ${`in-flight-${order.id}`}, 2500, 'USD', 'PROCESSING', ${now}, ${now})`);
    const charges = sandbox.stats().charges;
    const res = await pay({ orderId: order.id, idempotencyKey: `second-${order.id}`, paymentMethod: "pm_card_ok" });
    assert.equal(code(res), "BAD_USER_INPUT");
    assert.equal(res.errors![0]!.extensions?.field, "orderId");
    assert.equal(sandbox.stats().charges, charges);
    // The in-flight key itself resumes and completes.
    const resumed = await pay({
      orderId: order.id,
      idempotencyKey: `in-flight-${order.id}`,
      paymentMethod: "pm_card_ok",
    });
    assert.equal(resumed.data?.processPayment.status, "SUCCEEDED");
  });

  describe("a payment left PROCESSING by a process that died is settled with the provider first", () => {
    /** A PROCESSING row as a crashed process leaves it, last touched `ageMs` ago. */
    async function stuckPayment(orderId: string, ageMs: number): Promise<string> {
      const id = randomUUID();
      const at = new Date(Date.now() - ageMs).toISOString();
      await payments.db.run(sql`INSERT INTO payments (id, user_id, order_id, order_owner_id, idempotency_key, amount_cents, currency, status, created_at, updated_at)
         VALUES (${id}, ${ALICE}, ${orderId}, ${ALICE}, ${`stuck-${id}`}, 2500, 'USD', 'PROCESSING', ${at}, ${at})`);
      return id;
    }
    /** What the dead process had sent the provider: the row id as key and as metadata. */
    async function chargeAsTheDeadProcessDid(paymentId: string, orderId: string, paymentMethod: string) {
      const res = await fetch(`${sandboxUrl}/v1/payment_intents`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${API_KEY}`,
          "content-type": "application/x-www-form-urlencoded",
          "idempotency-key": paymentId,
        },
        body: new URLSearchParams({
          amount: "2500",
          currency: "usd",
          payment_method: paymentMethod,
          confirm: "true",
          "metadata[order_id]": orderId,
          "metadata[payment_id]": paymentId,
        }).toString(),
      });
      await res.arrayBuffer();
    }

    test("charged: a new key charges nothing, the payment is SUCCEEDED and the order PAID", async () => {
      const order = double.add(ALICE);
      const stuck = await stuckPayment(order.id, 1_000);
      await chargeAsTheDeadProcessDid(stuck, order.id, "pm_card_ok");
      const charges = sandbox.stats().charges;
      const res = await pay({ orderId: order.id, idempotencyKey: `after-${order.id}`, paymentMethod: "pm_card_ok" });
      assert.equal(code(res), "BAD_USER_INPUT");
      assert.match(res.errors![0]!.message, /already paid/);
      assert.equal(sandbox.stats().charges, charges, "no second charge");
      assert.deepEqual(
        (await rowsFor(order.id)).map((r) => r.status),
        ["SUCCEEDED"],
      );
      assert.equal(double.orders.get(order.id)!.status, "PAID");
      assert.equal(double.orders.get(order.id)!.paymentId, stuck);
    });

    test("declined: it is FAILED and a new key may charge", async () => {
      const order = double.add(ALICE);
      const stuck = await stuckPayment(order.id, 1_000);
      await chargeAsTheDeadProcessDid(stuck, order.id, "pm_card_declined");
      const res = await pay({ orderId: order.id, idempotencyKey: `after-${order.id}`, paymentMethod: "pm_card_ok" });
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      assert.equal(res.data?.processPayment.status, "SUCCEEDED");
      const rows = await rowsFor(order.id);
      assert.equal(rows.find((r) => r.id === stuck)?.status, "FAILED");
      assert.equal(rows.find((r) => r.id === stuck)?.failure_code, "card_declined");
    });

    test("unknown to the provider: within its lease it blocks other keys; past it, it is FAILED as interrupted", async () => {
      const order = double.add(ALICE);
      const stuck = await stuckPayment(order.id, 120_000);
      const charges = sandbox.stats().charges;
      const res = await pay({ orderId: order.id, idempotencyKey: `after-${order.id}`, paymentMethod: "pm_card_ok" });
      assert.equal(res.data?.processPayment.status, "SUCCEEDED", JSON.stringify(res.errors));
      assert.equal(sandbox.stats().charges - charges, 1);
      const rows = await rowsFor(order.id);
      assert.equal(rows.find((r) => r.id === stuck)?.failure_code, "interrupted");
    });

    test("the background pass records what the provider did without any request", async () => {
      const order = double.add(ALICE);
      const charged = await stuckPayment(order.id, 10_000);
      await chargeAsTheDeadProcessDid(charged, order.id, "pm_card_ok");
      const fresh = await stuckPayment(double.add(ALICE).id, 0);
      assert.ok((await payments.reconcilePayments()) >= 1);
      const [row] = await rowsFor(order.id);
      assert.equal(row?.status, "SUCCEEDED");
      assert.match(row?.provider_payment_id ?? "", /^pi_/);
      assert.equal(double.orders.get(order.id)!.status, "PAID");
      // A payment younger than a live request's charge is left to that request.
      const young = await payments.db.get<{ status: string }>(sql`SELECT status FROM payments WHERE id = ${fresh}`);
      assert.equal(young?.status, "PROCESSING");
    });
  });

  test("payment(id): in-flight and unknown are null; owner and admin see it; others are FORBIDDEN, peers not trusted", async () => {
    const order = double.add(ALICE);
    const paid = await pay({ orderId: order.id, idempotencyKey: `read-${order.id}`, paymentMethod: "pm_card_ok" });
    const id = paid.data!.processPayment.id;
    const q = "query($id: ID!) { payment(id: $id) { id order { id } } }";
    for (const as of [user(ALICE), admin]) {
      const res = await gql<{ payment: PaymentView }>(q, { id }, as);
      assert.deepEqual(res.data?.payment, { id, order: { id: order.id } });
    }
    // No peer calls payments, so no peer's key is trusted here.
    assert.equal(code(await gql(q, { id }, peer)), "UNAUTHENTICATED");
    assert.equal(code(await gql(q, { id }, user(BOB))), "FORBIDDEN");
    assert.equal(code(await gql(q, { id }, null)), "UNAUTHENTICATED");
    assert.equal((await gql<{ payment: null }>(q, { id: randomUUID() }, user(ALICE))).data?.payment, null);

    const processing = randomUUID();
    const now = new Date().toISOString();
    await payments.db.run(sql`INSERT INTO payments (id, user_id, order_id, order_owner_id, idempotency_key, amount_cents, currency, status, created_at, updated_at)
       VALUES (${processing}, ${ALICE}, ${randomUUID()}, ${ALICE}, ${`processing-${processing}`}, 100, 'USD', 'PROCESSING', ${now}, ${now})`);
    assert.equal((await gql<{ payment: null }>(q, { id: processing }, user(ALICE))).data?.payment, null);
  });

  test("Order.payment for several orders is one query: the success, else the latest failure, else null", async () => {
    const succeededAfterDecline = double.add(ALICE);
    await pay({
      orderId: succeededAfterDecline.id,
      idempotencyKey: `a1-${succeededAfterDecline.id}`,
      paymentMethod: "pm_card_declined",
    });
    const success = await pay({
      orderId: succeededAfterDecline.id,
      idempotencyKey: `a2-${succeededAfterDecline.id}`,
      paymentMethod: "pm_card_ok",
    });
    const onlyDeclines = double.add(ALICE);
    await pay({ orderId: onlyDeclines.id, idempotencyKey: `b1-${onlyDeclines.id}`, paymentMethod: "pm_card_declined" });
    await pay({
      orderId: onlyDeclines.id,
      idempotencyKey: `b2-${onlyDeclines.id}`,
      paymentMethod: "pm_card_chargeDeclined",
    });
    const lastDecline = (await payments.db.get<{ id: string }>(
      sql`SELECT id FROM payments WHERE idempotency_key = ${`b2-${onlyDeclines.id}`}`,
    ))!;
    const unpaid = double.add(ALICE);

    const representations = [succeededAfterDecline, onlyDeclines, unpaid].map((o) => ({
      __typename: "Order",
      id: o.id,
    }));
    const before = payments.db.queryCount;
    const res = await gql<{ _entities: { id: string; payment: { id: string; status: string } | null }[] }>(
      `query($representations: [_Any!]!) {
        _entities(representations: $representations) { ... on Order { id payment { id status order { id } } } }
      }`,
      { representations },
      admin,
    );
    assert.equal(payments.db.queryCount - before, 1);
    assert.equal(res.errors, undefined);
    const [a, b, c] = res.data!._entities;
    assert.deepEqual(a!.payment, {
      id: success.data!.processPayment.id,
      status: "SUCCEEDED",
      order: { id: succeededAfterDecline.id },
    });
    assert.deepEqual(b!.payment, { id: lastDecline.id, status: "FAILED", order: { id: onlyDeclines.id } });
    assert.equal(c!.payment, null);
  });

  test("Payment references resolve in one query under the same visibility rule", async () => {
    const orders = [double.add(ALICE), double.add(ALICE)];
    const ids: string[] = [];
    for (const o of orders) {
      const r = await pay({ orderId: o.id, idempotencyKey: `ref-${o.id}`, paymentMethod: "pm_card_ok" });
      ids.push(r.data!.processPayment.id);
    }
    const query = `query($representations: [_Any!]!) {
      _entities(representations: $representations) { ... on Payment { id status } }
    }`;
    const representations = [...ids, randomUUID()].map((id) => ({ __typename: "Payment", id }));
    const before = payments.db.queryCount;
    const res = await gql<{ _entities: ({ id: string } | null)[] }>(query, { representations }, user(ALICE));
    assert.equal(payments.db.queryCount - before, 1);
    assert.deepEqual(
      res.data!._entities.map((e) => e?.id ?? null),
      [...ids, null],
    );
    const denied = await gql(query, { representations }, user(BOB));
    assert.equal(code(denied), "FORBIDDEN");
  });
});

describe("payment provider client", () => {
  let server: Server;
  let baseUrl: string;
  let respond: (n: number) => { status: number; body: unknown } | "drop";
  const seen: { key: string | undefined; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        seen.push({ key: req.headers["idempotency-key"] as string | undefined, body });
        const answer = respond(seen.length);
        if (answer === "drop") {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const charge = {
    amountCents: 100,
    currency: "USD",
    paymentMethod: "pm_card_ok",
    idempotencyKey: "key-1",
    metadata: { order_id: "o1" },
  };
  const succeeded = { status: 200, body: { id: "pi_123", status: "succeeded" } };

  async function run(answer: typeof respond) {
    seen.length = 0;
    respond = answer;
    const provider = createPaymentProvider({ url: baseUrl, apiKey: "sk", retryDelayMs: 1, logger: silent });
    try {
      return await provider.createCharge(charge);
    } finally {
      await provider.close();
    }
  }

  const codeOf = (error: unknown) => (error as { extensions?: { code?: string } }).extensions?.code;

  test("sends a Stripe-style form with the idempotency key", async () => {
    const result = await run(() => succeeded);
    assert.deepEqual(result, { providerPaymentId: "pi_123", status: "succeeded" });
    const form = new URLSearchParams(seen[0]!.body);
    assert.equal(seen[0]!.key, "key-1");
    assert.equal(form.get("amount"), "100");
    assert.equal(form.get("currency"), "usd");
    assert.equal(form.get("payment_method"), "pm_card_ok");
    assert.equal(form.get("confirm"), "true");
    assert.equal(form.get("metadata[order_id]"), "o1");
  });

  test("retries 5xx, 409 and dropped connections with the same key", async () => {
    for (const first of [{ status: 503, body: {} }, { status: 409, body: {} }, "drop" as const]) {
      const result = await run((n) => (n === 1 ? first : succeeded));
      assert.equal(result.status, "succeeded");
      assert.equal(seen.length, 2);
      assert.deepEqual(
        seen.map((s) => s.key),
        ["key-1", "key-1"],
      );
    }
  });

  test("gives up after three attempts with SUBGRAPH_UNAVAILABLE", async () => {
    await assert.rejects(
      run(() => ({ status: 500, body: { error: { type: "api_error" } } })),
      (e) => codeOf(e) === "SUBGRAPH_UNAVAILABLE",
    );
    assert.equal(seen.length, 3);
  });

  test("does not retry other refusals, and never shows provider details", async () => {
    await assert.rejects(
      run(() => ({
        status: 401,
        body: { error: { type: "invalid_request_error", code: "api_key_invalid", message: "secret detail" } },
      })),
      (e) => codeOf(e) === "SUBGRAPH_UNAVAILABLE" && !(e as Error).message.includes("secret detail"),
    );
    assert.equal(seen.length, 1);
  });

  test("maps declines, unknown methods and key conflicts", async () => {
    const declined = await run(() => ({
      status: 402,
      body: {
        error: {
          type: "card_error",
          code: "card_declined",
          decline_code: "insufficient_funds",
          payment_intent: { id: "pi_9" },
        },
      },
    }));
    assert.deepEqual(declined, { providerPaymentId: "pi_9", status: "declined", declineCode: "insufficient_funds" });
    await assert.rejects(
      run(() => ({
        status: 400,
        body: { error: { type: "invalid_request_error", code: "resource_missing", param: "payment_method" } },
      })),
      (e) =>
        codeOf(e) === "BAD_USER_INPUT" && (e as { extensions: { field: string } }).extensions.field === "paymentMethod",
    );
    await assert.rejects(
      run(() => ({ status: 400, body: { error: { type: "idempotency_error" } } })),
      (e) =>
        codeOf(e) === "BAD_USER_INPUT" &&
        (e as { extensions: { field: string } }).extensions.field === "idempotencyKey",
    );
    assert.equal(seen.length, 1);
  });
});
