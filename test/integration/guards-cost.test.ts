import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { type Services, startServices } from "../helpers/services.ts";

type Line = Record<string, unknown> & { msg?: string; requestId?: string; component?: string };

/** A pino destination that keeps every line written. */
function captured() {
  const raw: string[] = [];
  return {
    stream: { write: (chunk: string) => void raw.push(chunk) },
    lines: (): Line[] => raw.flatMap((chunk) => chunk.split("\n").filter(Boolean)).map((l) => JSON.parse(l) as Line),
  };
}

type Log = ReturnType<typeof captured>;

/** Bounded wait for a log line (the request line is written after the response has gone out). */
async function lineFor(log: Log, match: (line: Line) => boolean): Promise<Line> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = log.lines().find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("log line not written");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The value of one series in a Prometheus text exposition, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const row of text.split("\n")) {
    if (!row.startsWith(`${name}{`) && !row.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => row.includes(`${k}="${v}"`))) {
      return Number(row.slice(row.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

let services: Services;
let dir: string;
let supergraphPath: string;
const gateways: Gateway[] = [];

before(async () => {
  services = await startServices();
  dir = mkdtempSync(join(tmpdir(), "guards-cost-"));
  supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
});

after(async () => {
  for (const gateway of gateways) await gateway.close();
  await services?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function startGateway(env: Record<string, string>) {
  const log = captured();
  const config = loadConfig({
    ...services.identity.gatewayEnv,
    SUPERGRAPH_PATH: supergraphPath,
    PORT: "0",
    LOG_LEVEL: "info",
    ...env,
  });
  const gateway = await createGateway(config, { logDestination: log.stream });
  gateways.push(gateway);
  const url = await gateway.listen(0);
  const post = async (query: string, requestId: string) => {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ query }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON
    return { status: res.status, body: (await res.json()) as any };
  };
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const requestLine = (id: string) => lineFor(log, (l) => l.requestId === id && l.component === "request");
  return { log, post, metrics, requestLine };
}

describe("estimated and actual cost", () => {
  test("each request's log line and a histogram carry both; the declared list sizes apply", async () => {
    const gw = await startGateway({});
    const three = await gw.post("{ products(first: 3) { nodes { id name } totalCount } }", "cost-three");
    assert.equal(three.status, 200, JSON.stringify(three.body));
    assert.equal(three.body.data.products.nodes.length, 3);
    // products (1) + 3 nodes; the answer holds the connection and its 3 products.
    assert.deepEqual((await gw.requestLine("cost-three")).cost, { estimated: 4, actual: 4 });

    // No `first`: @listSize(assumedSize: 20) on Query.products sizes `nodes`.
    const all = await gw.post("{ products { nodes { id } } }", "cost-default");
    assert.equal(all.status, 200);
    const line = await gw.requestLine("cost-default");
    assert.deepEqual(line.cost, { estimated: 21, actual: 1 + all.body.data.products.nodes.length });

    const text = await gw.metrics();
    assert.equal(sample(text, "gateway_operation_cost_count", { measure: "estimated" }), 2);
    assert.equal(sample(text, "gateway_operation_cost_count", { measure: "actual" }), 2);
    assert.equal(sample(text, "gateway_operation_cost_sum", { measure: "estimated" }), 4 + 21);
  });

  test("a refusal logs its estimate; COST_MODE=measure answers and logs what it would refuse", async () => {
    const query = "{ products(first: 50) { nodes { id } } }";
    const enforcing = await startGateway({ MAX_COST: "10" });
    const refused = await enforcing.post(query, "cost-refused");
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errors[0].extensions.code, "COST_LIMIT_EXCEEDED");
    assert.equal(refused.body.errors[0].extensions.actual, 51);
    const refusedLine = await enforcing.requestLine("cost-refused");
    assert.deepEqual(refusedLine.cost, { estimated: 51, actual: null, overLimit: true });
    assert.equal((refusedLine.refusal as { code: string }).code, "COST_LIMIT_EXCEEDED");

    const measuring = await startGateway({ MAX_COST: "10", COST_MODE: "measure" });
    const answered = await measuring.post(query, "cost-measured");
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.errors, undefined);
    const line = await measuring.requestLine("cost-measured");
    const actual = 1 + answered.body.data.products.nodes.length;
    assert.deepEqual(line.cost, { estimated: 51, actual, overLimit: true });
    const warning = await lineFor(
      measuring.log,
      (l) => l.msg === "cost: over the limit, not refused (COST_MODE=measure)",
    );
    assert.equal(warning.cost, 51);
    assert.equal(warning.limit, 10);
    const text = await measuring.metrics();
    assert.equal(sample(text, "gateway_cost_over_limit_total"), 1);
    assert.equal(sample(text, "gateway_guard_refusals_total", { code: "COST_LIMIT_EXCEEDED" }), 0);
    // Under the limit: nothing to report.
    const small = await measuring.post("{ products(first: 2) { nodes { id } } }", "cost-small");
    assert.equal(small.status, 200);
    assert.deepEqual((await measuring.requestLine("cost-small")).cost, { estimated: 3, actual: 3 });
  });
});
