/**
 * The REST shim against the same operation sent to `/graphql`, side by side on one gateway in
 * one run: what the shim's extra work (route matching, typed parameters, the in-process Apollo
 * request, result rules, ETag) costs per request. `npx tsx bench/rest.ts`.
 *
 * One gateway child process (production mode) over the real subgraphs in this process; each pair
 * of scenarios alternates in rounds so drift hits both alike. Gateway CPU per request (from /proc)
 * is the steadiest figure on a small machine. Loopback only; every run is bounded in time.
 * (bench/lib.ts compares gateway variants on one scenario; this compares two scenarios on one
 * gateway, so it drives autocannon itself.)
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { startServices } from "../test/helpers/services.ts";
import { cpuMs, startGateway } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Request {
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Pair {
  name: string;
  rest: Request;
  graphql: Request;
}

const graphqlRequest = (query: string, variables: Record<string, unknown>, token?: string): Request => ({
  method: "POST",
  path: "/graphql",
  headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
  body: JSON.stringify({ query, variables }),
});

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

const dir = mkdtempSync(join(tmpdir(), "bench-rest-"));
const services = await startServices();
let child: ChildProcess | undefined;
try {
  const supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
  const gateway = await startGateway(supergraphPath, services, { name: "gateway", env: { LOG_LEVEL: "warn" } });
  child = gateway.child;
  const url = gateway.url;

  // Set-up through the REST routes themselves (which also checks they answer).
  const post = async (path: string, body: unknown, token?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...headers },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`set-up ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const { token } = (await post("/api/users/login", { email: "alice@example.com", password: "alice-password" })) as {
    token: string;
  };
  const order = await post("/api/orders", { items: [{ productId: "prod-001", quantity: 1 }] }, token);
  await post("/api/payments/process", { orderId: order.id, paymentMethod: "pm_card_ok" }, token, {
    "idempotency-key": `bench-${order.id}`,
  });

  const PRODUCT = "id name priceCents currency stock";
  const ORDER = `id user { id } items { product { ${PRODUCT} } quantity unitPriceCents } totalCents currency status createdAt payment { id amountCents currency status }`;
  const pairs: Pair[] = [
    {
      name: "product by id (1 fetch)",
      rest: { method: "GET", path: "/api/products/prod-001" },
      graphql: graphqlRequest(`query GetProduct($id: ID!) { product(id: $id) { ${PRODUCT} } }`, { id: "prod-001" }),
    },
    {
      name: "catalogue page of 20 (1 fetch)",
      rest: { method: "GET", path: "/api/products?first=20" },
      graphql: graphqlRequest(
        `query ListProducts($first: Int, $after: String) { products(first: $first, after: $after) { nodes { ${PRODUCT} } pageInfo { hasNextPage endCursor } totalCount } }`,
        { first: 20 },
      ),
    },
    {
      name: "order with items+payment (3 fetches, auth)",
      rest: { method: "GET", path: `/api/orders/${order.id}`, headers: { authorization: `Bearer ${token}` } },
      graphql: graphqlRequest(`query GetOrder($id: ID!) { order(id: $id) { ${ORDER} } }`, { id: order.id }, token),
    },
  ];

  const run = (request: Request, seconds: number) =>
    autocannon({
      url: `${url}${request.path}`,
      method: request.method,
      ...(request.headers && { headers: request.headers }),
      ...(request.body !== undefined && { body: request.body }),
      duration: seconds,
      connections: CONNECTIONS,
    });

  console.log("\nREST shim vs /graphql, same operation, same gateway");
  console.log(
    `${SECONDS}s x ${ROUNDS} rounds each, ${CONNECTIONS} connections, alternating; node ${process.version}\n`,
  );
  for (const pair of pairs) {
    const sides = { graphql: pair.graphql, rest: pair.rest };
    const totals = Object.fromEntries(
      Object.keys(sides).map((k) => [k, { requests: 0, seconds: 0, cpu: 0, p50: 0, p99: 0, non2xx: 0 }]),
    );
    for (const request of Object.values(sides)) await run(request, 1); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (["graphql", "rest"] as const) : (["rest", "graphql"] as const);
      for (const side of order) {
        const before = cpuMs(child.pid!);
        const result = await run(sides[side], SECONDS);
        const t = totals[side]!;
        t.cpu += cpuMs(child.pid!) - before;
        t.requests += result.requests.total;
        t.seconds += result.duration;
        t.p50 += result.latency.p50 / ROUNDS;
        t.p99 += result.latency.p99 / ROUNDS;
        t.non2xx += result.non2xx + result.errors + result.timeouts;
      }
    }
    console.log(`scenario: ${pair.name}`);
    console.log(
      `  ${"side".padEnd(10)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"cpu ms/req".padStart(11)}${"non-2xx".padStart(9)}${"rps ratio".padStart(11)}${"cpu ratio".padStart(11)}`,
    );
    const base = totals.graphql!;
    const baseRps = base.requests / base.seconds;
    const baseCpu = base.cpu / Math.max(1, base.requests);
    for (const side of ["graphql", "rest"] as const) {
      const t = totals[side]!;
      const rps = t.requests / t.seconds;
      const cpu = t.cpu / Math.max(1, t.requests);
      console.log(
        `  ${side.padEnd(10)}${fmt(rps)}${fmt(t.p50, 1)}${fmt(t.p99, 1)}${fmt(cpu, 3).padStart(11)}${fmt(t.non2xx)}${fmt(rps / baseRps, 2).padStart(11)}${fmt(cpu / baseCpu, 2).padStart(11)}`,
      );
    }
    console.log("");
  }
} finally {
  child?.kill("SIGTERM");
  await services.close();
  rmSync(dir, { recursive: true, force: true });
}
