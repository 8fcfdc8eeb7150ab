import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Agent, fetch as fetchOver } from "undici";
import { type LogLine, type Running, startGateway } from "../helpers/gateway-process.ts";
import { steadyLoad as steadyLoadOf } from "../helpers/load.ts";
import { type Services, startServices } from "../helpers/services.ts";

const LIMIT = 5;
const QUERY = "{ products(first: 1) { totalCount } }";
const CLIENTS = 6;

describe("SIGHUP to the primary of GATEWAY_WORKERS=2: a rolling restart of the workers", () => {
  let services: Services;
  let dir: string;
  let supergraphPath: string;
  let gateway: Running;
  let url: string;
  let originals: number[];
  const agents: Agent[] = [];

  before(async () => {
    services = await startServices();
    dir = mkdtempSync(join(tmpdir(), "workers-rolling-"));
    supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, services.supergraphSdl);
    gateway = startGateway({
      GATEWAY_WORKERS: "2",
      ...services.identity.gatewayEnv,
      SUPERGRAPH_PATH: supergraphPath,
      RATE_LIMIT_OVERRIDES: `Query.product=${LIMIT}/1m/ip`,
    });
    url = (await gateway.waitFor((l) => l.msg === "gateway listening", "gateway listening")).url!;
    originals = gateway.lines.filter((l) => l.msg === "gateway worker listening").map((l) => l.worker!);
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) {
      gateway.child.kill("SIGKILL");
      await gateway.exited;
    }
    await services?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A client holding one kept-alive connection, as a service calling the gateway would. */
  const client = () => {
    const agent = new Agent({ connections: 1, pipelining: 1 });
    agents.push(agent);
    return async (query: string) => {
      const requestId = randomUUID();
      const res = await fetchOver(url, {
        dispatcher: agent,
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
      return { requestId, status: res.status, body };
    };
  };

  /** Clients querying in a loop until stopped, each on its own kept-alive connection (test/helpers/load.ts). */
  const steadyLoad = () =>
    steadyLoadOf(CLIENTS, () => {
      const post = client();
      return async () => {
        const res = await post(QUERY);
        const ok = res.status === 200 && res.body.errors === undefined && res.body.data != null;
        return { ok, detail: ok ? "" : `${res.status} ${JSON.stringify(res.body.errors)}`, requestId: res.requestId };
      };
    });

  /** The pid of the worker that logged this request. */
  const servedBy = async (requestId: string) =>
    (
      await gateway.waitFor(
        (l) => l.requestId === requestId && typeof l.status === "number",
        `request ${requestId}`,
        10_000,
      )
    ).pid!;

  const limited = client();

  test("every worker is replaced one at a time under keep-alive load: 0 failed queries, queries in flight at each stop, rate limits exact", {
    timeout: 90_000,
  }, async (t) => {
    assert.equal(originals.length, 2);
    // Part of the field budget is spent before the roll; the rest must be exactly what is left after it.
    for (let i = 0; i < 2; i++) assert.equal((await limited('{ product(id: "prod-001") { id } }')).status, 200);

    const load = steadyLoad();
    await load.more(30);
    const from = gateway.lines.length;
    const since = (match: (l: LogLine) => boolean) => gateway.lines.slice(from).filter(match);
    gateway.child.kill("SIGHUP");
    const done = await gateway.waitFor(
      (l) => l.msg === "gateway workers rolling restart done",
      "the rolling restart done",
      60_000,
    );
    await load.more(30);
    const outcomes = await load.stop();

    const failed = outcomes.filter((o) => !o.ok);
    assert.equal(failed.length, 0, `${failed.length} of ${outcomes.length} failed, e.g. ${failed[0]?.detail}`);

    assert.equal(done.replaced, 2);
    const replacements = since((l) => l.msg === "gateway worker listening").map((l) => l.worker!);
    assert.equal(replacements.length, 2);
    assert.ok(replacements.every((pid) => !originals.includes(pid)));
    assert.deepEqual(new Set(done.workers as number[]), new Set(replacements));
    for (const pid of originals) {
      assert.ok(since((l) => l.msg === "gateway worker retired" && l.worker === pid).length === 1, `${pid} retired`);
      assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `worker ${pid} is gone`);
    }
    // One at a time: the second replacement listened only after the first old worker had retired.
    const at = (match: (l: LogLine) => boolean) => gateway.lines.findIndex((l, i) => i >= from && match(l));
    const draining = since((l) => l.msg === "gateway worker draining");
    assert.deepEqual(new Set(draining.map((l) => l.worker)), new Set(originals));
    assert.ok(
      at((l) => l.msg === "gateway worker retired" && l.worker === draining[0]!.worker) <
        at((l) => l.msg === "gateway worker listening" && l.worker === replacements[1]),
      "the second replacement started after the first old worker retired",
    );
    assert.ok(
      at((l) => l.msg === "gateway worker listening" && l.worker === replacements[0]) <
        at((l) => l.msg === "gateway worker draining"),
      "the first old worker drained only once its replacement listened",
    );

    const pids = new Map<string, number>();
    for (const o of outcomes) pids.set(o.requestId, await servedBy(o.requestId));
    for (const pid of originals) {
      // The old worker's own word that it began closing: queries it answered spanned that moment.
      const stopping = since((l) => l.pid === pid && l.msg === "gateway stopping")[0];
      assert.ok(stopping?.time, `worker ${pid} closed its gateway`);
      const spanning = outcomes.filter(
        (o) => pids.get(o.requestId) === pid && o.started < stopping.time! && o.finished > stopping.time!,
      );
      t.diagnostic(`worker ${pid}: ${spanning.length} queries in flight when it began to drain`);
      assert.ok(spanning.length > 0, `queries were in flight on worker ${pid} when it was told to stop`);
    }
    const servedAfter = new Set(outcomes.filter((o) => o.started > done.time!).map((o) => pids.get(o.requestId)));
    assert.deepEqual(servedAfter, new Set(replacements), "only the new workers serve after the roll");
    t.diagnostic(`${outcomes.length} queries over ${CLIENTS} kept-alive connections, none failed`);

    // The primary kept the counters: exactly what was left of the budget goes through.
    const rest = [];
    for (let i = 0; i < LIMIT + 1; i++) rest.push(await limited('{ product(id: "prod-001") { id } }'));
    assert.deepEqual(
      rest.map((r) => r.status),
      [200, 200, 200, 429, 429, 429],
    );
    assert.equal(rest[3]!.body.errors?.[0]?.extensions?.code, "RATE_LIMITED");
  });

  test("a replacement that cannot start aborts the roll and the old workers keep serving", {
    timeout: 60_000,
  }, async () => {
    const serving = gateway.lines.filter((l) => l.msg === "gateway workers rolling restart done").at(-1)
      ?.workers as number[];
    assert.equal(serving.length, 2);
    const from = gateway.lines.length;
    // A new worker cannot load this; the running ones keep the supergraph they have.
    writeFileSync(supergraphPath, "this is not a supergraph");
    try {
      gateway.child.kill("SIGHUP");
      const aborted = await gateway.waitFor(
        (l) =>
          gateway.lines.indexOf(l) >= from &&
          l.msg?.startsWith("gateway worker failed to start; rolling restart aborted") === true,
        "the roll aborted",
        45_000,
      );
      assert.deepEqual(new Set(aborted.keeping as number[]), new Set(serving));
      const post = client();
      for (let i = 0; i < 4; i++) {
        const res = await post(QUERY);
        assert.equal(res.status, 200);
        assert.ok(serving.includes(await servedBy(res.requestId)));
      }
      for (const pid of serving) assert.doesNotThrow(() => process.kill(pid, 0));
      assert.ok(!gateway.lines.slice(from).some((l) => l.msg === "gateway worker draining"));
    } finally {
      writeFileSync(supergraphPath, services.supergraphSdl);
    }
  });
});
