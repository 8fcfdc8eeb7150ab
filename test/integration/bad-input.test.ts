import assert from "node:assert/strict";
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { type Stack, startStack } from "../helpers/stack.ts";

/*
 * A corpus of malformed requests against a production gateway: every one is refused with a 4xx
 * and a contract code in the shape of its route (GraphQL errors on /graphql, `{ error }` on
 * /api/*), never a 5xx, never a stack trace; the process stays up and nothing is written.
 */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The request went out on a connection an earlier request had used. */
  reusedSocket: boolean;
}

let stack: Stack;
let base: URL;
let token: string;

function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
  agent: Agent | false = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          reusedSocket: req.reusedSocket,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else req.end(body);
  });
}

const ordersCount = async () => (await stack.orders.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM orders`))!.n;
const paymentsCount = async () =>
  (await stack.payments.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM payments`))!.n;

/** The refusal's code, checked to be in the route's shape and free of stack traces. */
function codeOf(answer: Answer, shape: "graphql" | "rest"): string {
  assert.match(String(answer.headers["content-type"]), /^application\/json/, answer.body);
  assert.doesNotMatch(answer.body, /stacktrace|\bat .+:\d+:\d+/, "no stack trace");
  const body = JSON.parse(answer.body) as {
    errors?: { message: string; extensions?: { code?: string } }[];
    error?: { code: string; message: string };
  };
  if (shape === "graphql") {
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0, answer.body);
    assert.equal(typeof body.errors[0]!.message, "string");
    return body.errors[0]!.extensions!.code!;
  }
  assert.ok(body.error && typeof body.error.message === "string", answer.body);
  return body.error.code;
}

const JSON_TYPE = { "content-type": "application/json" };
const FIVE_MIB = Buffer.alloc(5 * 1024 * 1024, "a");

before(async () => {
  // Production: no stack traces, no explorer. The throttle is off so 100 oversized bodies are not throttled.
  stack = await startStack({ NODE_ENV: "production", HOST: "127.0.0.1", THROTTLE_RPS: "0", BLOCK_THRESHOLD: "0" });
  base = new URL(stack.url);
  token = await stack.login("alice@example.com", "alice-password");
});
after(() => stack?.close());

describe("an oversized body gets a 413 the client can read", () => {
  for (const [path, shape, headers] of [
    ["/api/orders", "rest", JSON_TYPE],
    ["/graphql", "graphql", JSON_TYPE],
  ] as const) {
    test(`5 MiB to ${path} on fresh connections: 20 of 20 read the 413`, async () => {
      for (let i = 0; i < 20; i++) {
        const answer = await send("POST", path, { ...headers, authorization: `Bearer ${token}` }, FIVE_MIB);
        assert.equal(answer.status, 413, `try ${i}`);
        assert.equal(codeOf(answer, shape), "PAYLOAD_TOO_LARGE");
      }
    });

    test(`5 MiB to ${path} after a 415 on the same kept-alive connection: 20 of 20 read the 413`, async () => {
      for (let i = 0; i < 20; i++) {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const wrongType = await send("POST", path, { "content-type": "application/xml" }, "<order/>", agent);
          assert.equal(wrongType.status, 415);
          assert.equal(codeOf(wrongType, shape), "UNSUPPORTED_MEDIA_TYPE");
          const answer = await send("POST", path, { ...headers }, FIVE_MIB, agent);
          assert.ok(answer.reusedSocket, "the oversized body went on the kept-alive connection");
          assert.equal(answer.status, 413, `try ${i}`);
          assert.equal(codeOf(answer, shape), "PAYLOAD_TOO_LARGE");
        } finally {
          agent.destroy();
        }
      }
    });
  }
});

describe("the bad-input corpus", () => {
  const deepList = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  const place = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }";
  const pay = "mutation($input: ProcessPaymentInput!) { processPayment(input: $input) { id } }";
  const graphqlCases: [string, string, string, Record<string, string>, (string | Buffer)?][] = [
    ["malformed JSON", "POST", "/graphql", JSON_TYPE, '{"query": "{ __typename }"'],
    ["empty body", "POST", "/graphql", JSON_TYPE, ""],
    ["JSON that is not an object", "POST", "/graphql", JSON_TYPE, '"{ __typename }"'],
    ["text/plain", "POST", "/graphql", { "content-type": "text/plain" }, '{"query":"{ __typename }"}'],
    ["form-encoded", "POST", "/graphql", { "content-type": "application/x-www-form-urlencoded" }, "query=x"],
    ["XML", "POST", "/graphql", { "content-type": "application/xml" }, "<query/>"],
    ["no content type", "POST", "/graphql", {}, '{"query":"{ __typename }"}'],
    ["a batch (batching is off)", "POST", "/graphql", JSON_TYPE, '[{"query":"{ __typename }"}]'],
    ["query not a string", "POST", "/graphql", JSON_TYPE, '{"query": 42}'],
    ["no query", "POST", "/graphql", JSON_TYPE, '{"variables": {}}'],
    ["variables as a string", "POST", "/graphql", JSON_TYPE, '{"query":"{ __typename }","variables":"{}"}'],
    ["duplicated query member", "POST", "/graphql", JSON_TYPE, '{"query":"{ __typename }","query":"{ nope }"}'],
    [
      "invalid UTF-8",
      "POST",
      "/graphql",
      JSON_TYPE,
      Buffer.from([0x7b, 0x22, 0x71, 0x75, 0x65, 0x72, 0x79, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    ],
    ["a syntax error", "POST", "/graphql", JSON_TYPE, '{"query":"{ products( }"}'],
    [
      "deeply nested variables",
      "POST",
      "/graphql",
      { ...JSON_TYPE },
      `{"query":${JSON.stringify(place)},"variables":{"input":${deepList}}}`,
    ],
    [
      "huge variables (900 KB of items)",
      "POST",
      "/graphql",
      JSON_TYPE,
      JSON.stringify({
        query: place,
        variables: { input: { items: Array.from({ length: 20_000 }, () => ({ productId: "prod-001", quantity: 1 })) } },
      }),
    ],
    [
      "variables of the wrong type",
      "POST",
      "/graphql",
      JSON_TYPE,
      JSON.stringify({ query: place, variables: { input: { items: "all" } } }),
    ],
    [
      "unknown input field",
      "POST",
      "/graphql",
      JSON_TYPE,
      JSON.stringify({ query: place, variables: { input: { items: [], discount: 100 } } }),
    ],
    ["a mutation over GET", "GET", `/graphql?query=${encodeURIComponent(place)}`, { "apollo-require-preflight": "1" }],
    ["GET without a preflight header", "GET", `/graphql?query=${encodeURIComponent("{ __typename }")}`, {}],
    ["GET with an undecodable query", "GET", "/graphql?query=%zz", { "apollo-require-preflight": "1" }],
    ["PUT", "PUT", "/graphql", JSON_TYPE, '{"query":"{ __typename }"}'],
    ["DELETE", "DELETE", "/graphql", {}],
    ["a body over the limit", "POST", "/graphql", JSON_TYPE, Buffer.alloc(2 * 1024 * 1024, " ")],
  ];
  const restCases: [string, string, string, Record<string, string>, (string | Buffer)?][] = [
    ["malformed JSON", "POST", "/api/orders", JSON_TYPE, '{"items": ['],
    ["empty JSON body", "POST", "/api/orders", JSON_TYPE, ""],
    ["text/plain", "POST", "/api/orders", { "content-type": "text/plain" }, '{"items":[]}'],
    ["no content type", "POST", "/api/orders", {}, '{"items":[]}'],
    ["a JSON array", "POST", "/api/orders", JSON_TYPE, "[]"],
    [
      "an unknown body field",
      "POST",
      "/api/orders",
      JSON_TYPE,
      '{"items":[{"productId":"prod-001","quantity":1}],"totalCents":1}',
    ],
    [
      "a duplicated body member",
      "POST",
      "/api/orders",
      JSON_TYPE,
      '{"items":[{"productId":"prod-001","quantity":1}],"items":"x"}',
    ],
    [
      "deeply nested body",
      "POST",
      "/api/orders",
      JSON_TYPE,
      `{"items":${deepList.slice(0, 20_000)}${deepList.slice(-20_000)}}`,
    ],
    [
      "invalid UTF-8",
      "POST",
      "/api/orders",
      JSON_TYPE,
      Buffer.from([0x7b, 0x22, 0x69, 0x74, 0x65, 0x6d, 0x73, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
    ],
    ["a body over the limit", "POST", "/api/orders", JSON_TYPE, Buffer.alloc(100 * 1024, " ")],
    [
      "payment with an invalid key",
      "POST",
      "/api/payments/process",
      { ...JSON_TYPE, "idempotency-key": "" },
      '{"orderId":"x","paymentMethod":"pm_card_ok"}',
    ],
    [
      "payment keys that disagree",
      "POST",
      "/api/payments/process",
      { ...JSON_TYPE, "idempotency-key": "a" },
      '{"orderId":"x","paymentMethod":"pm_card_ok","idempotencyKey":"b"}',
    ],
    ["a bad percent-encoding", "GET", "/api/products/%zz", {}],
    ["an over-long path segment", "GET", `/api/products/${"a".repeat(5000)}`, {}],
    ["a duplicated parameter", "GET", "/api/products?first=2&first=3", {}],
    ["an unknown parameter", "GET", "/api/products?frist=2", {}],
    ["a parameter out of range", "GET", "/api/products?first=100000", {}],
    ["a parameter of the wrong type", "GET", "/api/products?first=two", {}],
    ["an unknown path", "GET", "/api/nothing-here", {}],
    ["a known path, another method", "DELETE", "/api/orders", {}],
    ["an unknown top-level path", "GET", "/wp-admin", {}],
  ];

  for (const [shape, cases] of [
    ["graphql", graphqlCases],
    ["rest", restCases],
  ] as const) {
    test(`${shape === "graphql" ? "/graphql" : "/api/*"}: each is a 4xx with a contract code, and nothing is written`, async () => {
      const orders = await ordersCount();
      const payments = await paymentsCount();
      const seen: string[] = [];
      for (const [name, method, path, headers, body] of cases) {
        const answer = await send(method, path, { ...headers, authorization: `Bearer ${token}` }, body);
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${name}: ${answer.status} ${answer.body.slice(0, 300)}`,
        );
        const code = codeOf(answer, path.startsWith("/graphql") ? "graphql" : "rest");
        assert.match(code, /^[A-Z_]+$/, name);
        assert.notEqual(code, "INTERNAL_SERVER_ERROR", name);
        seen.push(`${name}: ${answer.status} ${code}`);
      }
      assert.equal(await ordersCount(), orders, "no order was written");
      assert.equal(await paymentsCount(), payments, "no payment was written");
      assert.equal(seen.length, cases.length);
      const health = await send("GET", "/healthz");
      assert.equal(health.status, 200, "the process stays up");
    });
  }

  test("the codes are the ones the error table names", async () => {
    const expect = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      body: string | undefined,
      status: number,
      code: string,
    ) => {
      const answer = await send(method, path, headers, body);
      assert.equal(answer.status, status, `${method} ${path}: ${answer.body}`);
      assert.equal(codeOf(answer, path.startsWith("/graphql") ? "graphql" : "rest"), code, `${method} ${path}`);
      return answer;
    };
    await expect("POST", "/graphql", JSON_TYPE, "{oops", 400, "BAD_REQUEST");
    await expect("POST", "/graphql", JSON_TYPE, "", 400, "BAD_REQUEST");
    await expect("POST", "/graphql", { "content-type": "text/plain" }, "{}", 415, "UNSUPPORTED_MEDIA_TYPE");
    await expect("POST", "/graphql", JSON_TYPE, '[{"query":"{ __typename }"}]', 400, "BAD_REQUEST");
    await expect("GET", `/graphql?query=${encodeURIComponent("{ __typename }")}`, {}, undefined, 400, "BAD_REQUEST");
    const put = await expect("PUT", "/graphql", JSON_TYPE, "{}", 405, "METHOD_NOT_ALLOWED");
    assert.equal(put.headers.allow, "GET, POST");
    const mutationOverGet = await expect(
      "GET",
      `/graphql?query=${encodeURIComponent(place)}`,
      { "apollo-require-preflight": "1" },
      undefined,
      405,
      "METHOD_NOT_ALLOWED",
    );
    assert.equal(mutationOverGet.headers.allow, "POST");
    await expect("POST", "/graphql", JSON_TYPE, '{"query":"{ products( }"}', 400, "GRAPHQL_PARSE_FAILED");
    await expect("GET", "/api/products/%zz", {}, undefined, 400, "BAD_REQUEST");
    await expect("GET", "/api/products?frist=2", {}, undefined, 400, "BAD_USER_INPUT");
    await expect("GET", "/api/products?first=1&first=2", {}, undefined, 400, "BAD_USER_INPUT");
    await expect("POST", "/api/orders", JSON_TYPE, "{oops", 400, "BAD_REQUEST");
    await expect("GET", "/wp-admin", {}, undefined, 404, "NOT_FOUND");
    await expect("GET", "/metrics", {}, undefined, 404, "NOT_FOUND");
  });

  test("headers over Node's limit get a 431 with a contract body; the process stays up", async () => {
    for (const path of ["/graphql", "/api/products"]) {
      const answer = await send("GET", path, { "x-padding": "a".repeat(64 * 1024) });
      assert.equal(answer.status, 431);
      assert.equal(codeOf(answer, "rest"), "HEADERS_TOO_LARGE");
    }
    assert.equal((await send("GET", "/healthz")).status, 200);
  });

  test("a mutation with a bad payment input during execution keeps GraphQL's 200 with a coded error", async () => {
    const payments = await paymentsCount();
    const answer = await send(
      "POST",
      "/graphql",
      { ...JSON_TYPE, authorization: `Bearer ${token}` },
      JSON.stringify({
        query: pay,
        variables: { input: { orderId: "no-such-order", idempotencyKey: "k-1", paymentMethod: "pm_card_ok" } },
      }),
    );
    assert.equal(answer.status, 200, answer.body);
    assert.match(codeOf(answer, "graphql"), /^(NOT_FOUND|BAD_USER_INPUT|FORBIDDEN)$/);
    assert.equal(await paymentsCount(), payments);
  });
});
