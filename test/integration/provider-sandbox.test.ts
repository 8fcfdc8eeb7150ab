import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { IdempotencyStore } from "../../sandbox/idempotency.ts";
import { createProviderSandbox, type ProviderSandbox } from "../../sandbox/server.ts";

const API_KEY = "sk_test_unit";

interface ErrorBody {
  error: { type: string; code?: string; decline_code?: string; param?: string; payment_intent?: { status: string } };
}

describe("payment provider sandbox", () => {
  let sandbox: ProviderSandbox;
  let baseUrl: string;
  let keyCounter = 0;
  const uniqueKey = () => `test-key-${++keyCounter}-${Date.now()}`;

  before(async () => {
    sandbox = createProviderSandbox({ apiKey: API_KEY, logger: pino({ level: "silent" }) });
    baseUrl = await sandbox.listen(0);
  });
  after(() => sandbox.close());

  function createIntent(
    fields: Record<string, unknown>,
    options: { key?: string; apiKey?: string | null; json?: boolean } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      "content-type": options.json ? "application/json" : "application/x-www-form-urlencoded",
    };
    if (options.apiKey !== null) headers.authorization = `Bearer ${options.apiKey ?? API_KEY}`;
    if (options.key) headers["idempotency-key"] = options.key;
    return fetch(`${baseUrl}/v1/payment_intents`, {
      method: "POST",
      headers,
      body: options.json ? JSON.stringify(fields) : new URLSearchParams(fields as Record<string, string>).toString(),
    });
  }

  const charge = (paymentMethod: string, amount = "2500") => ({
    amount,
    currency: "usd",
    payment_method: paymentMethod,
    confirm: "true",
    "metadata[order_id]": "order-1",
  });

  test("refuses requests without the right API key", async () => {
    const before = sandbox.stats();
    for (const apiKey of [null, "sk_test_wrong", `${API_KEY}x`]) {
      const res = await createIntent(charge("pm_card_ok"), { apiKey });
      assert.equal(res.status, 401);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.code, "api_key_invalid");
    }
    const list = await fetch(`${baseUrl}/v1/charges`);
    assert.equal(list.status, 401);
    assert.deepEqual(sandbox.stats(), before);
  });

  test("a succeeding card gives a succeeded payment intent and one charge", async () => {
    const before = sandbox.stats();
    for (const method of ["pm_card_ok", "pm_card_visa"]) {
      const res = await createIntent(charge(method));
      assert.equal(res.status, 200);
      const intent = (await res.json()) as Record<string, unknown>;
      assert.match(String(intent.id), /^pi_/);
      assert.equal(intent.object, "payment_intent");
      assert.equal(intent.amount, 2500);
      assert.equal(intent.currency, "usd");
      assert.equal(intent.status, "succeeded");
      assert.match(String(intent.latest_charge), /^ch_/);
      assert.deepEqual(intent.metadata, { order_id: "order-1" });

      const fetched = await fetch(`${baseUrl}/v1/payment_intents/${intent.id}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      assert.equal(fetched.status, 200);
      assert.equal(((await fetched.json()) as { status: string }).status, "succeeded");
    }
    const after = sandbox.stats();
    assert.equal(after.charges - before.charges, 2);
    assert.equal(after.succeeded - before.succeeded, 2);
    assert.equal(after.failed, before.failed);
  });

  test("accepts JSON bodies as well as form encoding", async () => {
    const res = await createIntent(
      { amount: 700, currency: "EUR", payment_method: "pm_card_ok", confirm: true, metadata: { order_id: "o-json" } },
      { json: true },
    );
    assert.equal(res.status, 200);
    const intent = (await res.json()) as { amount: number; currency: string; metadata: Record<string, string> };
    assert.equal(intent.amount, 700);
    assert.equal(intent.currency, "eur");
    assert.deepEqual(intent.metadata, { order_id: "o-json" });
  });

  test("declined cards give a 402 card_error and record a failed charge", async () => {
    for (const method of ["pm_card_declined", "pm_card_chargeDeclined"]) {
      const before = sandbox.stats();
      const res = await createIntent(charge(method));
      assert.equal(res.status, 402);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.type, "card_error");
      assert.equal(body.error.code, "card_declined");
      assert.equal(body.error.decline_code, "generic_decline");
      assert.equal(body.error.payment_intent?.status, "requires_payment_method");
      const after = sandbox.stats();
      assert.equal(after.charges - before.charges, 1);
      assert.equal(after.failed - before.failed, 1);
      assert.equal(after.succeeded, before.succeeded);
    }
  });

  test("an unknown payment method is resource_missing and charges nothing", async () => {
    const before = sandbox.stats();
    const res = await createIntent(charge("pm_card_nonsense"));
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, "resource_missing");
    assert.equal(body.error.param, "payment_method");
    assert.deepEqual(sandbox.stats(), before);
  });

  test("bad amounts and currencies are refused with the parameter named", async () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ currency: "usd", payment_method: "pm_card_ok" }, "parameter_missing", "amount"],
      [{ ...charge("pm_card_ok"), amount: "0" }, "parameter_invalid_integer", "amount"],
      [{ ...charge("pm_card_ok"), amount: "-5" }, "parameter_invalid_integer", "amount"],
      [{ ...charge("pm_card_ok"), amount: "12.5" }, "parameter_invalid_integer", "amount"],
      [{ ...charge("pm_card_ok"), amount: "abc" }, "parameter_invalid_integer", "amount"],
      [{ amount: "100", payment_method: "pm_card_ok" }, "parameter_missing", "currency"],
      [{ ...charge("pm_card_ok"), currency: "dollars" }, "parameter_invalid_string", "currency"],
      [{ amount: "100", currency: "usd" }, "parameter_missing", "payment_method"],
    ];
    const before = sandbox.stats();
    for (const [fields, code, param] of cases) {
      const res = await createIntent(fields);
      assert.equal(res.status, 400, JSON.stringify(fields));
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.code, code, JSON.stringify(fields));
      assert.equal(body.error.param, param, JSON.stringify(fields));
    }
    assert.deepEqual(sandbox.stats(), before);
  });

  test("the same idempotency key and parameters replay the first response without a new charge", async () => {
    const key = uniqueKey();
    const first = await createIntent(charge("pm_card_ok"), { key });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const firstBody = await first.json();
    const afterFirst = sandbox.stats();

    const replay = await createIntent(charge("pm_card_ok"), { key });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await replay.json(), firstBody);
    assert.deepEqual(sandbox.stats(), afterFirst);
  });

  test("a replayed decline is the same 402 and no new failed charge", async () => {
    const key = uniqueKey();
    const first = await createIntent(charge("pm_card_declined"), { key });
    assert.equal(first.status, 402);
    const firstBody = await first.json();
    const afterFirst = sandbox.stats();
    const replay = await createIntent(charge("pm_card_declined"), { key });
    assert.equal(replay.status, 402);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await replay.json(), firstBody);
    assert.deepEqual(sandbox.stats(), afterFirst);
  });

  test("reusing a key with other parameters is an idempotency_error", async () => {
    const key = uniqueKey();
    assert.equal((await createIntent(charge("pm_card_ok", "1000"), { key })).status, 200);
    const afterFirst = sandbox.stats();
    for (const fields of [charge("pm_card_ok", "1001"), charge("pm_card_visa", "1000")]) {
      const res = await createIntent(fields, { key });
      assert.equal(res.status, 400);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.type, "idempotency_error");
    }
    assert.deepEqual(sandbox.stats(), afterFirst);
  });

  /**
   * Sends the same request over `count` sockets that are all connected first, writing every
   * request in one synchronous loop, so they reach the sandbox together rather than one by one
   * as connections happen to open.
   */
  async function sendTogether(count: number, path: string, headers: Record<string, string>, body: string) {
    const { port } = new URL(baseUrl);
    const sockets = await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(Number(port), "127.0.0.1", () => resolve(socket));
            socket.once("error", reject);
          }),
      ),
    );
    const responses = sockets.map(
      (socket) =>
        new Promise<{ status: number; replayed: boolean; body: string }>((resolve, reject) => {
          const req = httpRequest({ method: "POST", path, headers, createConnection: () => socket }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                replayed: res.headers["idempotent-replayed"] === "true",
                body: text,
              }),
            );
          });
          req.once("error", reject);
          req.end(body);
        }),
    );
    try {
      return await Promise.all(responses);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }

  test("20 concurrent requests with one key make exactly one charge", async () => {
    const key = uniqueKey();
    const before = sandbox.stats();
    const body = new URLSearchParams(charge("pm_card_ok", "4242")).toString();
    const responses = await sendTogether(
      20,
      "/v1/payment_intents",
      {
        authorization: `Bearer ${API_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(Buffer.byteLength(body)),
        "idempotency-key": key,
        connection: "close",
      },
      body,
    );
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(new Set(responses.map((r) => (JSON.parse(r.body) as { id: string }).id)).size, 1);
    assert.equal(responses.filter((r) => r.replayed).length, 19);
    const after = sandbox.stats();
    assert.equal(after.charges - before.charges, 1);
    assert.equal(after.succeeded - before.succeeded, 1);
  });

  test("lists charges newest first with has_more, filterable by payment intent", async () => {
    const res = await createIntent(charge("pm_card_ok", "999"));
    const intent = (await res.json()) as { id: string; latest_charge: string };
    const headers = { authorization: `Bearer ${API_KEY}` };

    const page = await fetch(`${baseUrl}/v1/charges?limit=1`, { headers });
    assert.equal(page.status, 200);
    const list = (await page.json()) as { object: string; data: { id: string }[]; has_more: boolean };
    assert.equal(list.object, "list");
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0]!.id, intent.latest_charge);
    assert.equal(list.has_more, true);

    const filtered = await fetch(`${baseUrl}/v1/charges?payment_intent=${intent.id}`, { headers });
    const only = (await filtered.json()) as { data: { id: string; amount: number }[]; has_more: boolean };
    assert.deepEqual(
      only.data.map((c) => [c.id, c.amount]),
      [[intent.latest_charge, 999]],
    );
    assert.equal(only.has_more, false);

    const missing = await fetch(`${baseUrl}/v1/payment_intents/pi_nope`, { headers });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as ErrorBody).error.code, "resource_missing");
  });
});

describe("idempotency store", () => {
  test("forgets keys after their lifetime", () => {
    let now = 0;
    const store = new IdempotencyStore({ ttlMs: 1000, now: () => now });
    store.set("a", { fingerprint: "f", statusCode: 200, body: {} });
    now = 999;
    assert.ok(store.get("a"));
    now = 1000;
    assert.equal(store.get("a"), undefined);
    assert.equal(store.size, 0);
  });

  test("keeps at most maxKeys, dropping the oldest", () => {
    const store = new IdempotencyStore({ maxKeys: 3 });
    for (const key of ["a", "b", "c", "d"]) store.set(key, { fingerprint: key, statusCode: 200, body: {} });
    assert.equal(store.size, 3);
    assert.equal(store.get("a"), undefined);
    assert.equal(store.get("d")?.fingerprint, "d");
  });
});
