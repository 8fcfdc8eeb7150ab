import assert from "node:assert/strict";
import { test } from "node:test";
import type { SubgraphResponse } from "../../gateway/upstream/client.ts";
import { balancedTransport, InstancePool, RetryBudget } from "../../gateway/upstream/index.ts";

const refused = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
const reset = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
const answer = (status: number): SubgraphResponse => ({ status, url: "", headers: {}, body: "" });
const query = { headers: {}, body: '{"query":"query Q__s__0{x}"}' };
const mutation = { headers: {}, body: '{"query":"mutation M__s__0{x}"}' };

function pool(clock = { t: 0 }, options: Partial<ConstructorParameters<typeof InstancePool>[0]> = {}) {
  return new InstancePool({ subgraph: "s", urls: ["a", "b", "c"], openMs: 1000, now: () => clock.t, ...options });
}

/** Picks and starts a fetch on the instance; returns its URL. */
function take(p: InstancePool): string {
  const index = p.pick();
  p.acquire(index);
  return p.urlAt(index);
}

test("least outstanding fetches first; equals take turns", () => {
  const p = pool();
  assert.deepEqual([take(p), take(p), take(p)], ["a", "b", "c"]);
  // b finishes: it alone has nothing outstanding, so it gets the next two fetches' first.
  p.release(1, true);
  assert.equal(take(p), "b");
  // Now all have one: round-robin carries on after b.
  assert.deepEqual([take(p), take(p), take(p)], ["c", "a", "b"]);
  assert.deepEqual(
    p.health().map((h) => h.outstanding),
    [2, 2, 2],
  );
});

test("a circuit opens after consecutive failures, half-opens for one trial, and closes on its success", () => {
  const clock = { t: 0 };
  const p = pool(clock, { failureThreshold: 2 });
  p.acquire(1);
  p.release(1, false);
  assert.equal(p.health()[1]!.circuit, "closed", "one failure is not enough");
  p.acquire(1);
  p.release(1, true);
  p.acquire(1);
  p.release(1, false);
  assert.equal(p.health()[1]!.circuit, "closed", "a success in between starts the count again");
  p.acquire(1);
  p.release(1, false);
  assert.equal(p.health()[1]!.circuit, "open");
  for (let n = 0; n < 6; n++) assert.notEqual(p.pick(), 1);

  clock.t = 1001;
  // Its time is up: the first pick that reaches it is its one trial, and no other pick gets it meanwhile.
  let trial = -1;
  for (let n = 0; n < 3 && trial < 0; n++) {
    const index = p.pick();
    if (index === 1) trial = index;
  }
  assert.equal(trial, 1);
  assert.equal(p.health()[1]!.circuit, "half-open");
  p.acquire(1);
  for (let n = 0; n < 6; n++) assert.notEqual(p.pick(), 1);
  p.release(1, false);
  assert.equal(p.health()[1]!.circuit, "open", "a failed trial opens it again");

  clock.t = 2002;
  while (p.pick() !== 1) {}
  p.acquire(1);
  p.release(1, true);
  assert.equal(p.health()[1]!.circuit, "closed");
});

test("probes: a failing probe counts toward opening, a good one closes an open circuit at once", async () => {
  const up = new Set(["a", "c"]);
  const p = pool({ t: 0 }, { failureThreshold: 2 });
  const probe = async (url: string) => up.has(url);
  await p.probeAll(probe, 100);
  assert.equal(p.health()[1]!.circuit, "closed");
  await p.probeAll(probe, 100);
  assert.equal(p.health()[1]!.circuit, "open");
  assert.equal(p.health()[1]!.probe, false);
  up.add("b");
  await p.probeAll(probe, 100);
  assert.equal(p.health()[1]!.circuit, "closed", "no waiting for the trial");
  // A probe that throws (timeout, refused) is a failed probe.
  await p.probeAll(async (url) => (url === "c" ? Promise.reject(new Error("timeout")) : true), 100);
  assert.equal(p.health()[2]!.probe, false);
});

test("with every circuit open, a fetch fails at once without trying any instance", async () => {
  const p = pool({ t: 0 }, { failureThreshold: 1 });
  for (let i = 0; i < 3; i++) {
    p.acquire(i);
    p.release(i, false);
  }
  let calls = 0;
  const send = balancedTransport(p, async () => {
    calls++;
    return answer(200);
  });
  await assert.rejects(send("x", query), (error: Error & { code?: string }) => error.code === "ENOINSTANCE");
  assert.equal(calls, 0);
});

test("a query is retried elsewhere after a refused connection or a 503", async () => {
  const calls: string[] = [];
  const send = balancedTransport(pool(), async (url) => {
    calls.push(url);
    if (url === "a") throw refused();
    if (url === "b") return answer(503);
    return answer(200);
  });
  const res = await send("ignored", query);
  assert.equal(res.status, 200);
  assert.deepEqual(calls, ["a", "b", "c"]);
});

test("a mutation is retried only when it never left: not after a reset or a 503", async () => {
  const calls: string[] = [];
  const refusedFirst = balancedTransport(pool(), async (url) => {
    calls.push(url);
    return url === "a" ? Promise.reject(refused()) : answer(200);
  });
  assert.equal((await refusedFirst("x", mutation)).status, 200);
  assert.deepEqual(calls, ["a", "b"]);

  let resets = 0;
  const resetFirst = balancedTransport(pool(), async () => {
    resets++;
    throw reset();
  });
  await assert.rejects(resetFirst("x", mutation));
  assert.equal(resets, 1);
  let n = 0;
  const unavailable = balancedTransport(pool(), async () => {
    n++;
    return answer(503);
  });
  assert.equal((await unavailable("x", mutation)).status, 503);
  assert.equal(n, 1);
  // The data source's word wins over the body's first word.
  let m = 0;
  const flagged = balancedTransport(pool(), async () => {
    m++;
    throw reset();
  });
  await assert.rejects(flagged("x", { ...query, mutation: true }));
  assert.equal(m, 1);
});

test("a deadline that passed is neither retried nor held against the instance", async () => {
  const p = pool({ t: 0 }, { failureThreshold: 1 });
  let calls = 0;
  const send = balancedTransport(p, async () => {
    calls++;
    throw Object.assign(new Error("the request's deadline has passed"), { code: "EDEADLINE" });
  });
  await assert.rejects(send("x", query), (error: Error & { code?: string }) => error.code === "EDEADLINE");
  assert.equal(calls, 1);
  assert.ok(p.health().every((h) => h.circuit === "closed"));
});

test("retries stop when the budget is spent, and the window slides", async () => {
  const clock = { t: 0 };
  const p = new InstancePool({
    subgraph: "s",
    urls: ["a", "b"],
    retryRatio: 0.5,
    retryMinPerSecond: 0,
    failureThreshold: 1000,
    now: () => clock.t,
  });
  const tries = new Map<object, string[]>();
  const send = balancedTransport(p, async (url, request) => {
    tries.set(request, [...(tries.get(request) ?? []), url]);
    if (url === "a") throw refused();
    return answer(200);
  });
  // A request that reaches "a" first wants one retry; the budget grants half a retry per request.
  let failed = 0;
  for (let i = 0; i < 10; i++) await send("x", { ...query }).catch(() => failed++);
  const wanted = [...tries.values()].filter((urls) => urls[0] === "a").length;
  const retries = [...tries.values()].reduce((sum, urls) => sum + urls.length - 1, 0);
  assert.ok(retries <= 5, `retries ${retries} within half the requests`);
  assert.ok(failed > 0, "a retry past the budget is refused: the request fails");
  assert.equal(retries + failed, wanted);

  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, windowSeconds: 10, now: () => clock.t });
  // Reserve: 1 a second over 10 s.
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  assert.equal(granted, 10);
  for (let i = 0; i < 50; i++) budget.deposit();
  assert.equal(budget.tryWithdraw(), true); // 20% of 50 = 10 more
  clock.t += 11_000;
  // Everything above has left the window: the reserve is whole again, the deposits gone.
  granted = 0;
  while (budget.tryWithdraw()) granted++;
  assert.equal(granted, 10);
});

test("a retry with no closed circuit left tries an open one rather than failing: it may be back already", async () => {
  const p = pool({ t: 0 }, { failureThreshold: 1 });
  for (const i of [1, 2]) {
    p.acquire(i);
    p.release(i, false);
  }
  const calls: string[] = [];
  const send = balancedTransport(p, async (url) => {
    calls.push(url);
    if (url === "a") throw refused();
    return answer(200);
  });
  assert.equal((await send("x", query)).status, 200);
  assert.deepEqual(calls, ["a", "b"], "b's circuit opened first");
  assert.equal(p.health()[1]!.circuit, "closed", "its answer closes it");
  assert.equal(p.health()[2]!.circuit, "open");
});
