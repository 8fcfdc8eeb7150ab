import assert from "node:assert/strict";
import type { Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { availableParallelism } from "node:os";
import { describe, test } from "node:test";
import { Counter, Gauge, Registry } from "prom-client";
import { loadConfig } from "../../gateway/config.ts";
import { createMemoryStore } from "../../gateway/guards/index.ts";
import { answerConsume, type Channel, ipcLimitStore } from "../../gateway/workers/limits.ts";
import { aggregate } from "../../gateway/workers/metrics.ts";
import { testKeys } from "../helpers/identity.ts";

const login = { identity: "ip:192.0.2.1", coordinate: "Mutation.login", max: 5, windowMs: 60_000, count: 1 };

/**
 * A worker's channel to a primary in this process: messages cross as JSON (like the cluster's
 * IPC) and asynchronously, so concurrent operations interleave as they would between processes.
 */
function link(primary: ReturnType<typeof createMemoryStore>) {
  const toWorker = new EventEmitter();
  const worker = {
    isConnected: () => true,
    send: (message: unknown) => setImmediate(() => toWorker.emit("message", JSON.parse(JSON.stringify(message)))),
  } as unknown as Worker;
  const channel: Channel = {
    connected: true,
    send(message, callback) {
      setImmediate(() => {
        answerConsume(primary, worker, JSON.parse(JSON.stringify(message)));
        callback(null);
      });
      return true;
    },
    on: (event, listener) => toWorker.on(event, listener),
  };
  return channel;
}

describe("rate limits shared through the primary", () => {
  test("two workers' concurrent operations spend exactly the budget", async () => {
    const primary = createMemoryStore();
    const workers = [ipcLimitStore({ channel: link(primary) }), ipcLimitStore({ channel: link(primary) })];
    try {
      const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => workers[i % 2]!.consume([login])));
      assert.equal(decisions.filter(([d]) => d!.allowed).length, 5);
      const refused = decisions.find(([d]) => !d!.allowed)![0]!;
      assert.ok(refused.retryAfterMs > 59_000);
    } finally {
      await primary.close();
    }
  });

  test("an operation's fields travel in one message and are decided whole", async () => {
    const primary = createMemoryStore();
    const channel = link(primary);
    let sent = 0;
    const counting: Channel = {
      ...channel,
      connected: true,
      send(m, cb) {
        sent++;
        return channel.send(m, cb);
      },
    };
    const store = ipcLimitStore({ channel: counting });
    const both = await store.consume([
      { ...login, coordinate: "Mutation.register", count: 1 },
      { ...login, count: 6 },
    ]);
    assert.equal(sent, 1);
    assert.deepEqual(
      both.map((d) => d.allowed),
      [true, false],
    );
    // Nothing was counted: the register budget is whole.
    const [again] = await store.consume([{ ...login, coordinate: "Mutation.register", count: 5 }]);
    assert.equal(again!.allowed, true);
    await primary.close();
  });

  test("without the primary it fails closed: refused, with a short Retry-After", async () => {
    const reasons: string[] = [];
    const gone: Channel = { connected: false, send: () => false, on: () => {} };
    const [refused] = await ipcLimitStore({ channel: gone, onUnavailable: (r) => reasons.push(r) }).consume([login]);
    assert.deepEqual([refused!.allowed, refused!.retryAfterMs], [false, 1000]);

    const silentPrimary: Channel = { connected: true, send: () => true, on: () => {} };
    const slow = ipcLimitStore({ channel: silentPrimary, timeoutMs: 50, onUnavailable: (r) => reasons.push(r) });
    const [late] = await slow.consume([login]);
    assert.equal(late!.allowed, false);
    assert.equal(reasons.length, 2);
    assert.match(reasons[1]!, /within 50 ms/);

    // Closing while waiting refuses too, never lets through.
    const closing = ipcLimitStore({ channel: silentPrimary });
    const waiting = closing.consume([login]);
    await closing.close();
    assert.equal((await waiting)[0]!.allowed, false);
  });

  test("an operation without a limited field asks nothing", async () => {
    const never: Channel = { connected: true, send: () => assert.fail("sent"), on: () => {} };
    assert.deepEqual(await ipcLimitStore({ channel: never }).consume([]), []);
  });
});

describe("metrics aggregated over workers", () => {
  const workerSeries = async (requests: number, version: string) => {
    const registry = new Registry();
    new Counter({ name: "gateway_http_requests_total", help: "h", labelNames: ["route"], registers: [registry] }).inc(
      { route: "/graphql" },
      requests,
    );
    new Gauge({ name: "process_resident_memory_bytes", help: "h", registers: [registry] }).set(requests * 1000);
    new Gauge({ name: "gateway_supergraph_info", help: "h", labelNames: ["version"], registers: [registry] }).set(
      { version },
      1,
    );
    return registry.getMetricsAsJSON();
  };

  test("traffic is summed, process series stay per worker", async () => {
    const text = await aggregate([
      { pid: 11, metrics: await workerSeries(3, "a") },
      { pid: 12, metrics: await workerSeries(4, "a") },
    ]).metrics();
    assert.match(text, /^gateway_http_requests_total\{route="\/graphql"\} 7$/m);
    assert.match(text, /^process_resident_memory_bytes\{worker="11"\} 3000$/m);
    assert.match(text, /^process_resident_memory_bytes\{worker="12"\} 4000$/m);
    assert.match(text, /^gateway_supergraph_info\{version="a",worker="11"\} 1$/m);
    assert.match(text, /^gateway_supergraph_info\{version="a",worker="12"\} 1$/m);
  });
});

describe("GATEWAY_WORKERS", () => {
  test("one process outside production, every core in production", () => {
    assert.equal(loadConfig({}).workers, 1);
    const production = { NODE_ENV: "production", ...testKeys.gatewayEnv };
    assert.equal(loadConfig(production).workers, availableParallelism());
    assert.equal(loadConfig({ ...production, GATEWAY_WORKERS: "3" }).workers, 3);
  });

  test("a bad value names the variable", () => {
    for (const value of ["0", "two", "1.5", "-1", "5000"]) {
      assert.throws(() => loadConfig({ GATEWAY_WORKERS: value }), /GATEWAY_WORKERS must be an integer from 1/);
    }
  });
});
