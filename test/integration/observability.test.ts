import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { trace } from "@opentelemetry/api";
import { pino } from "pino";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { ROUTES } from "../../gateway/rest/index.ts";
import { createProductsService } from "../../subgraphs/products/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { composeFor, type Services, startServices } from "../helpers/services.ts";

type Line = Record<string, unknown> & { msg?: string; requestId?: string };

/** A pino destination that keeps every line written, raw and parsed. */
function captured() {
  const raw: string[] = [];
  return {
    raw,
    stream: { write: (chunk: string) => void raw.push(chunk) },
    lines: (): Line[] => raw.flatMap((chunk) => chunk.split("\n").filter(Boolean)).map((l) => JSON.parse(l) as Line),
  };
}

const gatewayLog = captured();
const productsLog = captured();
let services: Services;
let products: Awaited<ReturnType<typeof createProductsService>>;
let gateway: Gateway;
let url: string;
let dir: string;
let supergraphPath: string;

before(async () => {
  services = await startServices();
  // A products service of our own, so its log lines can be read.
  products = await createProductsService({
    ...testDatabase(),
    identityKeys: services.identity.forService("products"),
    logger: pino({ name: "products", level: "info" }, productsLog.stream),
  });
  const productsUrl = await products.listen(0);
  dir = mkdtempSync(join(tmpdir(), "observability-"));
  supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, composeFor({ ...services.subgraphUrls, products: productsUrl }));
  const config = loadConfig({
    ...services.identity.gatewayEnv,
    SUPERGRAPH_PATH: supergraphPath,
    PORT: "0",
    LOG_LEVEL: "info",
    MAX_DEPTH: "5",
    METRICS_MAX_OPERATION_NAMES: "4",
    // Every request must reach the subgraphs here: the response cache would answer repeats itself.
    RESPONSE_CACHE: "false",
    // Names earn their label at first use here, so the label rules can be read in one test run.
    METRICS_OPERATION_EARN_MINUTES: "1",
  });
  gateway = await createGateway(config, { logDestination: gatewayLog.stream });
  url = await gateway.listen(0);
});

after(async () => {
  await gateway?.close();
  await products?.close();
  await services?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function metrics(): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Bounded wait for a log line (lines are written after the response has gone out). */
async function lineFor(log: ReturnType<typeof captured>, match: (line: Line) => boolean): Promise<Line> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = log.lines().find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("log line not written");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const requestLine = (id: string) => (line: Line) => line.requestId === id && line.component === "request";

/** The value of one series in a Prometheus text exposition, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const row of text.split("\n")) {
    if (!row.startsWith(`${name}{`) && !row.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => row.includes(`${k}="${v}"`));
    if (ok) return Number(row.slice(row.lastIndexOf(" ") + 1));
  }
  return 0;
}

const CATALOGUE = "query Catalogue { products(first: 3) { nodes { id name priceCents } } }";

describe("request ids", () => {
  test("an incoming X-Request-Id is kept, returned, passed to the subgraph and logged there", async () => {
    const res = await post("/graphql", { query: CATALOGUE }, { "x-request-id": "req-abc.123" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-request-id"), "req-abc.123");
    const line = await lineFor(gatewayLog, requestLine("req-abc.123"));
    assert.equal(line.status, 200);
    const sub = await lineFor(productsLog, (l) => l.requestId === "req-abc.123" && l.route === "/graphql");
    assert.equal(sub.status, 200);
  });

  test("without one, an id is made; with only a traceparent, its trace id is the request id", async () => {
    const made = await post("/graphql", { query: CATALOGUE });
    assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const traced = await post("/graphql", { query: CATALOGUE }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    assert.equal(traced.headers.get("x-request-id"), traceId);
    const sub = await lineFor(productsLog, (l) => l.requestId === traceId);
    assert.equal(sub.traceId, traceId, "the subgraph saw the caller's trace");
    // An id that could forge log fields or headers is replaced.
    const forged = await post("/graphql", { query: CATALOGUE }, { "x-request-id": 'x" injected' });
    assert.notEqual(forged.headers.get("x-request-id"), 'x" injected');
  });

  test("refusals and non-GraphQL routes carry the request id too", async () => {
    const refused = await post(
      "/graphql",
      { query: CATALOGUE },
      { authorization: "Bearer nope", "x-request-id": "r-401" },
    );
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("x-request-id"), "r-401");
    const health = await fetch(`${url}/healthz`, { headers: { "x-request-id": "r-health" } });
    assert.equal(health.headers.get("x-request-id"), "r-health");
  });
});

describe("the request log", () => {
  test("one line per GraphQL request: who, what, outcome, duration and each subgraph call", async () => {
    const login = await post("/graphql", {
      query: "mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id } } }",
      variables: { e: "alice@example.com", p: "alice-password" },
    });
    const { token, user } = (login.body.data as { login: { token: string; user: { id: string } } }).login;
    const res = await post(
      "/graphql",
      { query: "query Mine { me { name orders { id items { product { name } } } } }" },
      { authorization: `Bearer ${token}`, "x-request-id": "r-mine" },
    );
    assert.equal(res.status, 200);
    const line = await lineFor(gatewayLog, requestLine("r-mine"));
    assert.equal(gatewayLog.lines().filter(requestLine("r-mine")).length, 1, "exactly one line");
    assert.equal(line.msg, "request completed");
    assert.equal(line.userId, user.id);
    assert.equal(line.ip, "127.0.0.1");
    assert.equal(line.route, "/graphql");
    assert.deepEqual(line.operation, { name: "Mine", type: "query" });
    assert.equal(typeof line.durationMs, "number");
    const calls = line.subgraphs as { subgraph: string; url: string; durationMs: number; status: number }[];
    assert.ok(calls.some((c) => c.subgraph === "users" && c.status === 200 && c.url.startsWith("http://127.0.0.1")));
    assert.ok(calls.some((c) => c.subgraph === "orders"));
    assert.ok(calls.every((c) => typeof c.durationMs === "number"));
  });

  test("REST requests are logged with their route and operation", async () => {
    const res = await fetch(`${url}/api/products/prod-001`, { headers: { "x-request-id": "r-rest" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-request-id"), "r-rest");
    const line = await lineFor(gatewayLog, requestLine("r-rest"));
    assert.equal(line.route, "/api/products/:id");
    assert.equal((line.operation as { type: string }).type, "query");
    assert.ok((line.subgraphs as { subgraph: string }[]).some((c) => c.subgraph === "products"));
    const missing = await fetch(`${url}/api/products/prod-999`, { headers: { "x-request-id": "r-rest-404" } });
    assert.equal(missing.status, 404);
    const notFound = await lineFor(gatewayLog, requestLine("r-rest-404"));
    assert.deepEqual(notFound.errors, ["NOT_FOUND"]);
  });

  test("auth and guard refusals are logged as refusals with their code and reason", async () => {
    await post("/graphql", { query: CATALOGUE }, { authorization: "Bearer not.a.jwt", "x-request-id": "r-auth" });
    const auth = await lineFor(gatewayLog, requestLine("r-auth"));
    assert.equal(auth.level, 40);
    assert.equal(auth.status, 401);
    const refusal = auth.refusal as { code: string; reason: string };
    assert.equal(refusal.code, "UNAUTHENTICATED");
    assert.ok(refusal.reason.length > 0 && refusal.reason !== "UNAUTHENTICATED", "the reason is logged");

    const deep = "{ me { orders { user { orders { user { orders { id } } } } } } }";
    const res = await post("/graphql", { query: deep }, { "x-request-id": "r-deep" });
    assert.equal(res.status, 400);
    const depth = await lineFor(gatewayLog, requestLine("r-deep"));
    assert.equal((depth.refusal as { code: string }).code, "DEPTH_LIMIT_EXCEEDED");
  });

  test("start-up and supergraph reloads are logged", async () => {
    assert.ok(gatewayLog.lines().some((l) => l.msg === "supergraph loaded" && typeof l.version === "string"));
    const before = gatewayLog.lines().filter((l) => l.msg === "supergraph loaded").length;
    writeFileSync(supergraphPath, `${readFileSync(supergraphPath, "utf8")}\n# touched\n`);
    await lineFor(gatewayLog, () => gatewayLog.lines().filter((l) => l.msg === "supergraph loaded").length > before);
    await gateway.supergraph.settled();
  });

  test("tokens, passwords, Authorization, cookies and identity tokens never reach a log line", async () => {
    const secrets = {
      password: "s3cret-Passw0rd-for-logs",
      cookie: "session=cookie-value-never-logged",
      bogusToken: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bogus-signature-never-logged",
      identity: "forged-identity-token-never-logged",
    };
    const email = `log-${Date.now()}@example.com`;
    const registered = await post("/graphql", {
      query: "mutation($i: RegisterInput!) { register(input: $i) { token } }",
      variables: { i: { email, name: "Log Test", password: secrets.password } },
    });
    const token = (registered.body.data as { register: { token: string } }).register.token;
    // Inline in the document, in variables, through REST, with cookies and a forged identity header.
    await post("/graphql", {
      query: `mutation { login(email: "${email}", password: "${secrets.password}") { token } }`,
    });
    await post("/graphql", { query: `mutation { login(email: "${email}", password: "${secrets.password}") { token ` });
    await post("/api/users/login", { email, password: secrets.password });
    await post("/api/users/login", { email, password: `${secrets.password}-wrong` });
    await post(
      "/graphql",
      { query: "{ me { id } }" },
      { authorization: `Bearer ${token}`, cookie: secrets.cookie, "x-identity-token": secrets.identity },
    );
    await post("/graphql", { query: "{ me { id } }" }, { authorization: `Bearer ${secrets.bogusToken}` });
    const res = await fetch(`${url}/graphql?query=${encodeURIComponent(`{ me { id } }`)}`, {
      headers: { authorization: `Bearer ${token}`, cookie: secrets.cookie, "apollo-require-preflight": "1" },
    });
    assert.equal(res.status, 200);
    await lineFor(gatewayLog, (l) => l.method === "GET" && l.route === "/graphql");

    const everything = [...gatewayLog.raw, ...productsLog.raw].join("");
    for (const secret of [secrets.password, secrets.cookie, "cookie-value-never-logged", secrets.identity, token]) {
      assert.ok(!everything.includes(secret), `a log line contains ${secret.slice(0, 12)}…`);
    }
    assert.ok(!everything.includes("bogus-signature-never-logged"));
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(everything), "no JWT in any log line");
    assert.ok(!/bearer /i.test(everything), "no Authorization value in any log line");
  });
});

describe("metrics", () => {
  test("operations by name, type, route and status; errors and refusals by code", async () => {
    await post("/graphql", { query: CATALOGUE });
    await post("/graphql", { query: CATALOGUE });
    const text = await metrics();
    const labels = { operation: "Catalogue", type: "query", route: "/graphql", status: "200" };
    assert.ok(sample(text, "gateway_operations_total", labels) >= 2);
    assert.ok(sample(text, "gateway_operation_duration_seconds_count", labels) >= 2);
    assert.ok(sample(text, "gateway_refusals_total", { code: "UNAUTHENTICATED" }) >= 1);
    assert.ok(sample(text, "gateway_refusals_total", { code: "DEPTH_LIMIT_EXCEEDED" }) >= 1);
    assert.ok(sample(text, "gateway_errors_total", { code: "NOT_FOUND" }) >= 1);
    assert.ok(sample(text, "gateway_http_requests_total", { route: "/graphql", method: "POST", status: "200" }) >= 2);
    assert.ok(sample(text, "gateway_operations_total", { route: "/api/products/:id", status: "200" }) >= 1);
  });

  test("per-subgraph duration, errors and in-flight; plan cache hits and misses", async () => {
    const text = await metrics();
    assert.ok(sample(text, "gateway_subgraph_requests_total", { subgraph: "products", status: "200" }) >= 1);
    assert.ok(sample(text, "gateway_subgraph_request_duration_seconds_count", { subgraph: "products" }) >= 1);
    assert.match(text, /gateway_subgraph_requests_in_flight\{subgraph="products"\} 0/);
    assert.ok(sample(text, "gateway_query_plan_cache_lookups_total", { result: "miss" }) >= 1);
    assert.ok(sample(text, "gateway_query_plan_cache_lookups_total", { result: "hit" }) >= 1);
    assert.match(text, /gateway_supergraph_info\{version="[0-9a-f]{12}"\} 1/);
    assert.match(text, /gateway_supergraph_reloads \d+/);
    assert.match(text, /process_cpu_user_seconds_total/);
  });

  test("a subgraph fetch that fails is counted as an error of that subgraph", async () => {
    await products.close();
    const res = await post("/graphql", { query: CATALOGUE });
    assert.equal(res.status, 503);
    const text = await metrics();
    assert.ok(sample(text, "gateway_subgraph_errors_total", { subgraph: "products", kind: "unavailable" }) >= 1);
    assert.ok(sample(text, "gateway_refusals_total", { code: "SUBGRAPH_UNAVAILABLE" }) >= 1);
  });

  test("label cardinality is bounded: unnamed operations fold into one value, names past the cap into another", async () => {
    for (let i = 0; i < 8; i++) await post("/graphql", { query: `query Name${i} { __typename }` });
    await post("/graphql", { query: "{ __typename }" });
    await post("/graphql", { query: "query { nope }" });
    const text = await metrics();
    const names = new Set([...text.matchAll(/^gateway_operations_total\{operation="([^"]+)"/gm)].map((m) => m[1]));
    // The REST shim's operations are the gateway's own documents: their names always keep a value.
    const own = new Set(ROUTES.map((route) => /^(?:query|mutation) (\w+)/.exec(route.operation)?.[1]));
    const earned = [...names].filter((name) => !own.has(name));
    assert.ok(earned.length <= 4 + 2, `operation label values: ${earned.join(", ")}`);
    assert.ok(names.has("other"));
    assert.ok(names.has("unknown"));
    assert.ok(!names.has("Name7"));
  });

  test("tracing is off and free without an endpoint: no tracer provider is registered", () => {
    const span = trace.getTracer("probe").startSpan("probe");
    assert.equal(span.isRecording(), false);
    span.end();
  });
});

describe("subgraph metrics", () => {
  test("each subgraph serves its own /metrics", async () => {
    const usersMetrics = await (await fetch(new URL("/metrics", services.subgraphUrls.users))).text();
    assert.match(usersMetrics, /subgraph_http_requests_total\{[^}]*route="\/graphql"[^}]*service="users"/);
    assert.match(usersMetrics, /process_cpu_user_seconds_total\{service="users"\}/);
  });
});
