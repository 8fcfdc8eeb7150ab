import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createProviderSandbox, type ProviderSandbox } from "../../sandbox/server.ts";
import { IDENTITY_HEADER, type Identity } from "../../subgraphs/kit/identity.ts";
import { testDatabaseEnv } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";
import { silent } from "../helpers/services.ts";

// Services run as real processes so that kill -9 is a real crash: no handler, no clean-up.
/** Which service answers at a URL, so a request carries an identity token for that audience. */
const serviceAt = new Map<string, string>();
const dataDir = mkdtempSync(join(tmpdir(), "durability-"));
// One store per service for the whole file (a restarted service finds its data again).
const database = { DATA_DIR: dataDir, ...testDatabaseEnv() };
const processes: ChildProcess[] = [];
const servers: Server[] = [];
let sandbox: ProviderSandbox | undefined;

after(async () => {
  for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const server of servers) server.close();
  await sandbox?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  url: string;
  /** Resolves once the process has exited (killed or not). */
  exited: Promise<void>;
}

async function startService(script: string, env: Record<string, string>): Promise<Running> {
  const name = /subgraphs\/([^/]+)\//.exec(script)![1]!;
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...database, PORT: "0", LOG_LEVEL: "warn", ...testKeys.envFor(name), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  processes.push(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 30 s:\n${output}`)), 30_000);
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /ready at (http\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on("data", (chunk) => {
      output += chunk;
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready:\n${output}`));
    });
  });
  serviceAt.set(url, name);
  return { child, url, exited };
}

async function kill9(running: Running): Promise<void> {
  running.child.kill("SIGKILL");
  await running.exited;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * A pass-through HTTP proxy. `afterUpstream` runs once the upstream has answered and before the
 * answer is relayed: it may kill the caller there, which is exactly a crash after the peer acted
 * and before the caller recorded it.
 */
async function startProxy(
  target: string,
  afterUpstream: (method: string, path: string, body: string) => Promise<void>,
): Promise<string> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([name]) => !["host", "connection", "content-length"].includes(name)),
      ) as Record<string, string>;
      const upstream = await fetch(new URL(req.url!, target), {
        method: req.method,
        headers,
        body: req.method === "GET" ? undefined : body,
      });
      const answer = Buffer.from(await upstream.arrayBuffer());
      await afterUpstream(req.method!, req.url!, body.toString());
      if (res.socket?.destroyed) return;
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(answer);
    } catch {
      res.destroy();
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

const customer: Partial<Identity> = { userId: "user-durable", scopes: new Set(["customer"]) };

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, identity: Partial<Identity>) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [IDENTITY_HEADER]: await testKeys.sign(identity, serviceAt.get(url)!),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResult<T>;
}

/** Polls until `check` holds, failing after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

const STOCK = "query ($id: ID!) { product(id: $id) { stock } }";
const PLACE = "mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }";
const ORDER = "query ($id: ID!) { order(id: $id) { id status } }";
const PAY = "mutation ($input: ProcessPaymentInput!) { processPayment(input: $input) { id status } }";

describe("nothing is lost when a process dies mid-request", { timeout: 120_000 }, () => {
  test("orders killed between reserving stock and writing the order: the hold expires and the stock comes back once", async () => {
    const products = await startService("subgraphs/products/index.ts", { RESERVATION_TTL_SECONDS: "1" });
    const stockOf = async () =>
      (await gql<{ product: { stock: number } }>(products.url, STOCK, { id: "prod-030" }, customer)).data!.product
        .stock;
    const before = await stockOf();

    let orders: Running | undefined;
    let reservedThenKilled = false;
    const productsProxy = await startProxy(products.url, async (_method, _path, body) => {
      if (!body.includes("reserveStock")) return;
      // The reservation is committed in products; the orders process dies before it hears back.
      reservedThenKilled = true;
      await kill9(orders!);
    });
    orders = await startService("subgraphs/orders/index.ts", { PRODUCTS_URL: productsProxy });

    const placed = await fetch(orders.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [IDENTITY_HEADER]: await testKeys.sign(customer, "orders"),
      },
      body: JSON.stringify({ query: PLACE, variables: { input: { items: [{ productId: "prod-030", quantity: 3 }] } } }),
    }).then(
      () => "answered",
      () => "connection lost",
    );
    assert.equal(placed, "connection lost");
    assert.ok(reservedThenKilled, "orders died after products had reserved");
    await orders.exited;
    // The overlap happened: the stock was held when the process died.
    const held = await stockOf();
    assert.ok(held === before - 3 || held === before, `stock ${held} of ${before}`);

    await until(async () => (await stockOf()) === before, "the expired hold to come back");
    // Further sweeps (every 250 ms at this TTL) must not give it back a second time.
    await delay(1_000);
    assert.equal(await stockOf(), before);
    await kill9(products);
  });

  test("payments killed after the provider charged: the next attempt charges nothing more and the order ends PAID", async () => {
    sandbox = createProviderSandbox({ apiKey: "sk_test_durable", logger: silent });
    const sandboxUrl = await sandbox.listen(0);
    const products = await startService("subgraphs/products/index.ts", {});
    const orders = await startService("subgraphs/orders/index.ts", { PRODUCTS_URL: products.url });
    const paymentsEnv = {
      ORDERS_URL: orders.url,
      PAYMENT_PROVIDER_API_KEY: "sk_test_durable",
    };

    let payments: Running | undefined;
    let killArmed = true;
    let chargedThenKilled = false;
    const providerProxy = await startProxy(sandboxUrl, async (method, path) => {
      if (!killArmed || method !== "POST" || !path.startsWith("/v1/payment_intents")) return;
      killArmed = false;
      // The sandbox has charged; the payments process dies before recording the answer.
      chargedThenKilled = true;
      await kill9(payments!);
    });

    const placeOrder = async () => {
      const res = await gql<{ placeOrder: { id: string } }>(
        orders.url,
        PLACE,
        { input: { items: [{ productId: "prod-031", quantity: 1 }] } },
        customer,
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!.placeOrder.id;
    };
    const statusOf = async (orderId: string) =>
      (await gql<{ order: { status: string } }>(orders.url, ORDER, { id: orderId }, customer)).data!.order.status;
    const pay = (url: string, orderId: string, idempotencyKey: string) =>
      gql<{ processPayment: { id: string; status: string } }>(
        url,
        PAY,
        { input: { orderId, idempotencyKey, paymentMethod: "pm_card_ok" } },
        customer,
      );

    // Retrying with the same key, and paying with a new key: neither charges again.
    for (const retryKey of ["same", "new"] as const) {
      killArmed = true;
      chargedThenKilled = false;
      const orderId = await placeOrder();
      payments = await startService("subgraphs/payments/index.ts", {
        ...paymentsEnv,
        PAYMENT_PROVIDER_URL: providerProxy,
      });
      const charges: number = sandbox.stats().succeeded;
      const lost = await pay(payments.url, orderId, `key-${retryKey}-1`).then(
        () => "answered",
        () => "connection lost",
      );
      assert.equal(lost, "connection lost");
      assert.ok(chargedThenKilled, "payments died after the provider charged");
      await payments.exited;
      assert.equal(sandbox.stats().succeeded, charges + 1);
      assert.equal(await statusOf(orderId), "PENDING", "the charge was never recorded");

      // A fresh process on the same store, talking to the provider directly.
      payments = await startService("subgraphs/payments/index.ts", {
        ...paymentsEnv,
        PAYMENT_PROVIDER_URL: sandboxUrl,
      });
      const again = await pay(payments.url, orderId, retryKey === "same" ? "key-same-1" : "key-new-2");
      if (retryKey === "same") {
        assert.equal(again.errors, undefined, JSON.stringify(again.errors));
        assert.equal(again.data?.processPayment.status, "SUCCEEDED");
      } else {
        assert.equal(again.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
        assert.match(again.errors?.[0]?.message ?? "", /already paid/);
      }
      assert.equal(sandbox.stats().succeeded, charges + 1, "no second charge");
      assert.equal(await statusOf(orderId), "PAID");
      await kill9(payments);
    }
    await kill9(orders);
    await kill9(products);
  });
});
