/**
 * Benchmark harness: runs the real subgraphs in this process and each gateway variant as its own
 * child process (so its CPU can be read apart from everything else), drives them with autocannon
 * in alternating rounds, and prints request rates, latencies and gateway CPU per request side by side
 * with ratios against the first variant (the baseline). Loopback only; every run is bounded in time.
 *
 * Gateway CPU per request is the steadiest figure on a small, noisy machine: compare within one run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { freePort } from "../test/helpers/net.ts";
import { type Services, startServices } from "../test/helpers/services.ts";

export interface Variant {
  name: string;
  /** Gateway environment for this variant (on top of the harness's own). */
  env?: Record<string, string>;
}

export interface Scenario {
  name: string;
  method?: "GET" | "POST" | "HEAD";
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface BenchContext {
  services: Services;
  /** Signs in through the baseline gateway and returns the bearer token. */
  login: (email: string, password: string) => Promise<string>;
  /** Runs one GraphQL operation through the baseline gateway (for setting up data). */
  graphql: <T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ) => Promise<T>;
}

export interface CompareOptions {
  title: string;
  variants: Variant[];
  /** Built once the services are up; `login` signs in through the baseline gateway. */
  scenarios: (ctx: BenchContext) => Scenario[] | Promise<Scenario[]>;
  /** @default 5 (env BENCH_SECONDS) */
  seconds?: number;
  /** @default 10 (env BENCH_CONNECTIONS) */
  connections?: number;
  /** Alternating rounds per variant. @default 3 (env BENCH_ROUNDS) */
  rounds?: number;
}

interface Sample {
  requests: number;
  errors: number;
  seconds: number;
  cpuMs: number;
  p50: number;
  p99: number;
}

const CLK_TCK = 100;

/** User + system CPU of a process in milliseconds, from /proc (Linux). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway at ${url} not ready in 30 s`);
}

/** A gateway child process in production mode over `supergraphPath`, ready to serve. */
export async function startGateway(supergraphPath: string, services: Services, variant: Variant) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "gateway/index.ts", "--supergraph", supergraphPath], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      ...services.identity.gatewayEnv,
      PORT: String(port),
      HOST: "127.0.0.1",
      ...variant.env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child);
  return { url, child };
}

async function run(url: string, scenario: Scenario, seconds: number, connections: number) {
  return autocannon({
    url: `${url}${scenario.path}`,
    method: scenario.method ?? "POST",
    headers: { "content-type": "application/json", ...scenario.headers },
    ...(scenario.body !== undefined && { body: scenario.body }),
    duration: seconds,
    connections,
  });
}

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

export async function compare(options: CompareOptions): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? options.seconds ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? options.connections ?? 10);
  const rounds = Number(process.env.BENCH_ROUNDS ?? options.rounds ?? 3);
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  const services = await startServices();
  const gateways: { variant: Variant; url: string; child: ChildProcess }[] = [];
  try {
    const supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, services.supergraphSdl);
    for (const variant of options.variants) {
      gateways.push({ variant, ...(await startGateway(supergraphPath, services, variant)) });
    }
    const baseline = gateways[0]!;
    const graphql = async <T>(query: string, variables: Record<string, unknown> = {}, token?: string) => {
      const res = await fetch(`${baseline.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: unknown };
      if (!body.data || body.errors) throw new Error(`setup operation failed: ${JSON.stringify(body)}`);
      return body.data;
    };
    const login = async (email: string, password: string) =>
      (
        await graphql<{ login: { token: string } }>(
          "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
          { e: email, p: password },
        )
      ).login.token;
    const scenarios = await options.scenarios({ services, login, graphql });

    console.log(`\n${options.title}`);
    console.log(
      `${seconds}s x ${rounds} rounds per variant, ${connections} connections, variants alternate; node ${process.version}\n`,
    );
    for (const scenario of scenarios) {
      const samples = new Map<string, Sample[]>(gateways.map((g) => [g.variant.name, []]));
      for (const g of gateways) await run(g.url, scenario, 1, connections); // warm-up: JIT, plan cache, pools
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? gateways : [...gateways].reverse();
        for (const g of order) {
          const cpuBefore = cpuMs(g.child.pid!);
          const result = await run(g.url, scenario, seconds, connections);
          const cpu = cpuMs(g.child.pid!) - cpuBefore;
          samples.get(g.variant.name)!.push({
            requests: result.requests.total,
            errors: result.non2xx + result.errors + result.timeouts,
            seconds: result.duration,
            cpuMs: cpu,
            p50: result.latency.p50,
            p99: result.latency.p99,
          });
        }
      }
      console.log(`scenario: ${scenario.name}`);
      console.log(
        `  ${"variant".padEnd(22)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"cpu ms/req".padStart(11)}${"non-2xx".padStart(9)}${"rps ratio".padStart(11)}${"cpu ratio".padStart(11)}`,
      );
      let base: { rps: number; cpu: number } | null = null;
      for (const g of gateways) {
        const list = samples.get(g.variant.name)!;
        const requests = list.reduce((a, s) => a + s.requests, 0);
        const rps = requests / list.reduce((a, s) => a + s.seconds, 0);
        const cpu = list.reduce((a, s) => a + s.cpuMs, 0) / Math.max(1, requests);
        const p50 = list.reduce((a, s) => a + s.p50, 0) / list.length;
        const p99 = list.reduce((a, s) => a + s.p99, 0) / list.length;
        const errors = list.reduce((a, s) => a + s.errors, 0);
        base ??= { rps, cpu };
        console.log(
          `  ${g.variant.name.padEnd(22)}${fmt(rps)}${fmt(p50, 1)}${fmt(p99, 1)}${fmt(cpu, 3).padStart(11)}${fmt(errors)}${fmt(rps / base.rps, 2).padStart(11)}${fmt(cpu / base.cpu, 2).padStart(11)}`,
        );
      }
      console.log("");
    }
  } finally {
    for (const g of gateways) g.child.kill("SIGTERM");
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const CATALOGUE_QUERY = `query Catalogue { products(first: 20) { nodes { id name priceCents stock } totalCount } }`;
export const PICTURE_QUERY = `query Picture { me { name orders { id status totalCents items { quantity product { name priceCents } } payment { status } } } }`;

/**
 * The two typical federated requests every benchmark compares on: the catalogue (one fetch) and a
 * signed-in customer's whole picture over a paid order (users, orders, products, payments).
 */
export async function shopScenarios(
  { login, graphql }: BenchContext,
  pictureName = "me+orders+items+payment (4 fetches)",
): Promise<Scenario[]> {
  const token = await login("alice@example.com", "alice-password");
  const { placeOrder } = await graphql<{ placeOrder: { id: string } }>(
    `mutation { placeOrder(input: { items: [{ productId: "prod-001", quantity: 1 }, { productId: "prod-002", quantity: 2 }] }) { id } }`,
    {},
    token,
  );
  await graphql(
    `mutation($id: ID!, $key: String!) { processPayment(input: { orderId: $id, idempotencyKey: $key, paymentMethod: "pm_card_ok" }) { id } }`,
    { id: placeOrder.id, key: `bench-${placeOrder.id}` },
    token,
  );
  return [
    { name: "catalogue (1 fetch)", path: "/graphql", body: JSON.stringify({ query: CATALOGUE_QUERY }) },
    {
      name: pictureName,
      path: "/graphql",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: PICTURE_QUERY }),
    },
  ];
}
