import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Agent, fetch as fetchOver } from "undici";
import { type Running, startGateway } from "../helpers/gateway-process.ts";
import { type Services, startServices } from "../helpers/services.ts";

const LIMIT = 5;
const QUERY = '{ product(id: "prod-001") { id } }';

describe("GATEWAY_WORKERS=2 without Redis", () => {
  let services: Services;
  let dir: string;
  let gateway: Running;
  let url: string;
  let workerPids: number[];

  before(async () => {
    services = await startServices();
    dir = mkdtempSync(join(tmpdir(), "workers-"));
    const supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, services.supergraphSdl);
    gateway = startGateway({
      GATEWAY_WORKERS: "2",
      ...services.identity.gatewayEnv,
      SUPERGRAPH_PATH: supergraphPath,
      RATE_LIMIT_OVERRIDES: `Query.product=${LIMIT}/1m/ip`,
    });
    const listening = await gateway.waitFor((l) => l.msg === "gateway listening", "gateway listening");
    url = listening.url!;
    workerPids = gateway.lines.filter((l) => l.msg === "gateway worker listening").map((l) => l.worker!);
  });
  after(async () => {
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) {
      gateway.child.kill("SIGKILL");
      await gateway.exited;
    }
    await services?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // A new connection per request, so the primary hands each to the next worker in turn.
  const fresh = new Agent({ maxRequestsPerClient: 1 });
  after(() => fresh.close());

  const post = async (query: string, requestId = randomUUID()) => {
    const res = await fetchOver(url, {
      dispatcher: fresh,
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    return { status: res.status, code: body.errors?.[0]?.extensions?.code, requestId };
  };

  /** The pid of the worker that logged this request. */
  const servedBy = (requestId: string) =>
    gateway.waitFor((l) => l.requestId === requestId && typeof l.status === "number", `request ${requestId}`, 5000);

  test("the primary announces one URL once both workers listen, each a process of its own", () => {
    assert.equal(workerPids.length, 2);
    assert.equal(new Set(workerPids).size, 2);
    assert.ok(!workerPids.includes(gateway.child.pid!), "the primary serves no request");
  });

  test(`a field limit of ${LIMIT} lets exactly ${LIMIT} of ${3 * LIMIT} concurrent requests through, over both workers`, async () => {
    const results = await Promise.all(Array.from({ length: 3 * LIMIT }, () => post(QUERY)));
    const allowed = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(allowed.length, LIMIT, JSON.stringify(results));
    assert.equal(refused.length, 2 * LIMIT);
    assert.ok(refused.every((r) => r.code === "RATE_LIMITED"));
    const pids = await Promise.all(results.map(async (r) => (await servedBy(r.requestId)).pid));
    assert.deepEqual(new Set(pids), new Set(workerPids), "both workers served part of the burst");
    // The budget is spent for every worker: whichever serves the next one refuses it.
    const next = await Promise.all(Array.from({ length: 10 }, () => post(QUERY)));
    assert.ok(
      next.every((r) => r.status === 429),
      JSON.stringify(next),
    );
    const nextPids = await Promise.all(next.map(async (r) => (await servedBy(r.requestId)).pid));
    assert.equal(new Set(nextPids).size, 2, "both workers refused");
  });

  test("/metrics adds up every worker's counts and labels process series by worker", async () => {
    const count = 12;
    const results = await Promise.all(
      Array.from({ length: count }, () => post("{ products(first: 1) { totalCount } }")),
    );
    assert.ok(results.every((r) => r.status === 200));
    const pids = await Promise.all(results.map(async (r) => (await servedBy(r.requestId)).pid));
    const perWorker = workerPids.map((pid) => pids.filter((p) => p === pid).length);
    assert.ok(
      perWorker.every((n) => n > 0 && n < count),
      `both workers served some: ${perWorker}`,
    );

    const res = await fetch(new URL("/metrics", url));
    assert.equal(res.status, 200);
    const text = await res.text();
    const series = (name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\d+(?:\\.\\d+)?)$`, "m").exec(text)?.[1] ?? Number.NaN);
    // Every /graphql request so far (the burst, the refusals after it, these) was counted once.
    const ok = series("gateway_http_requests_total", 'route="/graphql",method="POST",status="200"');
    const limited = series("gateway_http_requests_total", 'route="/graphql",method="POST",status="429"');
    assert.equal(
      ok,
      LIMIT + count,
      text
        .split("\n")
        .filter((l) => l.includes("/graphql"))
        .join("\n"),
    );
    assert.equal(limited, 2 * LIMIT + 10);
    assert.equal(series("gateway_rate_limited_total", 'field="Query.product"'), 2 * LIMIT + 10);
    for (const pid of workerPids) {
      assert.match(text, new RegExp(`^process_cpu_user_seconds_total\\{worker="${pid}"\\} `, "m"));
      assert.match(text, new RegExp(`^gateway_supergraph_info\\{version="[^"]+",worker="${pid}"\\} 1$`, "m"));
    }
  });

  test("a worker killed with SIGKILL is replaced and requests keep succeeding", async () => {
    const [victim, survivor] = workerPids as [number, number];
    const failures: string[] = [];
    let served = 0;
    let stop = false;
    // Steady queries until the replacement has served one.
    const load = (async () => {
      while (!stop) {
        const r = await post("{ products(first: 1) { totalCount } }").catch((error: Error) => ({
          status: 0,
          code: error.message,
          requestId: "",
        }));
        if (r.status === 200) served++;
        else failures.push(`${r.status} ${r.code}`);
      }
    })();
    try {
      await gateway.waitFor((l) => l.pid === survivor && typeof l.status === "number", "survivor serving");
      process.kill(victim, "SIGKILL");
      const exitedLine = await gateway.waitFor(
        (l) => l.msg === "gateway worker exited; replacing it" && l.worker === victim,
        "the victim's exit",
      );
      assert.equal(exitedLine.signal, "SIGKILL");
      const replacement = await gateway.waitFor(
        (l) => l.msg === "gateway worker listening" && !workerPids.includes(l.worker!),
        "a replacement worker",
      );
      await gateway.waitFor(
        (l) => l.pid === replacement.worker && typeof l.status === "number" && l.status === 200,
        "the replacement serving",
      );
      workerPids = [survivor, replacement.worker!];
    } finally {
      stop = true;
      await load;
    }
    assert.ok(served > 0);
    // What the victim held when it died may fail with it: the request in flight on its connection,
    // and one the primary had just handed it (kill -9 leaves no drain; a rolling restart loses none,
    // see workers-rolling.test.ts). Nothing after the replacement may fail.
    assert.ok(failures.length <= 2, `failed: ${failures.join(", ")} of ${served + failures.length}`);
    const after = await Promise.all(Array.from({ length: 4 }, () => post("{ products(first: 1) { totalCount } }")));
    assert.ok(after.every((r) => r.status === 200));
  });

  test("SIGTERM to the primary drains every worker, then the primary exits", async () => {
    const pids = [...workerPids];
    gateway.child.kill("SIGTERM");
    assert.equal(await gateway.exited, 0);
    for (const pid of pids) {
      assert.ok(
        gateway.lines.some((l) => l.pid === pid && l.msg === "gateway stopping"),
        `worker ${pid} closed its gateway`,
      );
      assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `worker ${pid} is gone`);
    }
    assert.ok(gateway.lines.some((l) => l.msg === "gateway stopped"));
  });
});
