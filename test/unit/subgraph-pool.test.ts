import assert from "node:assert/strict";
import { test } from "node:test";
import { balancedTransport, InstancePool } from "../../gateway/upstream/index.ts";

const refused = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
const reset = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
const answer = (status: number) => ({ status, url: "", headers: {}, body: "" });

function pool(now = { t: 0 }) {
  return new InstancePool({ subgraph: "s", urls: ["a", "b", "c"], ejectMs: 1000, now: () => now.t });
}

test("round-robin over healthy instances; a failed one is left out, then tried again", () => {
  const clock = { t: 0 };
  const p = pool(clock);
  assert.deepEqual([p.pick(), p.pick(), p.pick(), p.pick()], ["a", "b", "c", "a"]);
  p.failed("b");
  assert.deepEqual([p.pick(), p.pick(), p.pick()], ["c", "a", "c"]);
  clock.t = 1001;
  assert.ok([p.pick(), p.pick(), p.pick()].includes("b"));
});

test("a query is retried elsewhere after a refused connection or a 503", async () => {
  const calls: string[] = [];
  const fetcher = balancedTransport(pool(), async (url) => {
    calls.push(url);
    if (url === "a") throw refused();
    if (url === "b") return answer(503);
    return answer(200);
  });
  const res = await fetcher("ignored", { headers: {}, body: '{"query":"query Q__s__0{x}"}' });
  assert.equal(res.status, 200);
  assert.deepEqual(calls, ["a", "b", "c"]);
});

test("a mutation is retried only when it never left: not after a reset or a 503", async () => {
  const calls: string[] = [];
  const body = '{"query":"mutation M__s__0{x}"}';
  const refusedFirst = balancedTransport(pool(), async (url) => {
    calls.push(url);
    return url === "a" ? Promise.reject(refused()) : answer(200);
  });
  assert.equal((await refusedFirst("x", { headers: {}, body })).status, 200);
  assert.deepEqual(calls, ["a", "b"]);

  const resetFirst = balancedTransport(pool(), async () => {
    throw reset();
  });
  await assert.rejects(resetFirst("x", { headers: {}, body }));
  let n = 0;
  const unavailable = balancedTransport(pool(), async () => {
    n++;
    return answer(503);
  });
  assert.equal((await unavailable("x", { headers: {}, body })).status, 503);
  assert.equal(n, 1);
});
