import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CIDR_MEMO_ENTRIES, cidrMatcher, createAccessList, parseCidrs } from "../../gateway/guards/access.ts";
import { Blocker } from "../../gateway/guards/blocker.ts";
import { rateLimitHeaders } from "../../gateway/guards/headers.ts";
import { BoundedTimestampStore, createMemoryStore } from "../../gateway/guards/memory-store.ts";
import { createRateLimiter } from "../../gateway/guards/rate-limiter.ts";
import { Throttle } from "../../gateway/guards/throttle.ts";
import { silent } from "../helpers/services.ts";

const login = { identity: "ip:192.0.2.1", coordinate: "Mutation.login", max: 5, windowMs: 60_000, count: 1 };

describe("the in-memory store (graphql-rate-limit's limiter)", () => {
  test("concurrent operations spend exactly the budget", async () => {
    const store = createMemoryStore();
    try {
      const decisions = await Promise.all(Array.from({ length: 50 }, () => store.consume([login])));
      assert.equal(decisions.filter(([d]) => d!.allowed).length, 5);
      const refused = decisions.find(([d]) => !d!.allowed)![0]!;
      assert.ok(refused.retryAfterMs > 59_000 && refused.retryAfterMs <= 60_000);
      assert.equal(refused.remaining, 0);
    } finally {
      await store.close();
    }
  });

  test("keys carry identity and parent type; an operation is decided whole", async () => {
    const store = createMemoryStore();
    try {
      const [first] = await store.consume([{ ...login, count: 3 }]);
      assert.deepEqual([first!.allowed, first!.remaining], [true, 2]);
      assert.equal((await store.consume([{ ...login, identity: "ip:192.0.2.2", count: 5 }]))[0]!.allowed, true);
      assert.equal((await store.consume([{ ...login, coordinate: "Query.login", count: 5 }]))[0]!.allowed, true);
      const both = await store.consume([
        { ...login, coordinate: "Mutation.register", count: 1 },
        { ...login, count: 3 },
      ]);
      assert.deepEqual(
        both.map((d) => d.allowed),
        [true, false],
      );
      const [register] = await store.consume([{ ...login, coordinate: "Mutation.register", count: 5 }]);
      assert.equal(register!.allowed, true, "the refused operation counted nothing");
      const [tooMany] = await store.consume([{ ...login, identity: "ip:192.0.2.3", count: 6 }]);
      assert.equal(tooMany!.allowed, false);
      assert.equal(tooMany!.retryAfterMs, 60_000);
    } finally {
      await store.close();
    }
  });

  test("memory stays bounded: expired entries go, and a flood of clients evicts the stalest", () => {
    let evicted = 0;
    const store = new BoundedTimestampStore(100, () => evicted++);
    const now = Date.now();
    for (let i = 0; i < 1000; i++) {
      store.setForIdentity({ contextIdentity: `ip:${i}`, fieldIdentity: "Mutation.login" }, [now], 60_000);
    }
    assert.equal(store.size, 100);
    assert.equal(evicted, 900);
    assert.deepEqual(store.getForIdentity({ contextIdentity: "ip:999", fieldIdentity: "Mutation.login" }), [now]);
    assert.deepEqual(store.getForIdentity({ contextIdentity: "ip:0", fieldIdentity: "Mutation.login" }), []);
    store.sweep(now + 60_001);
    assert.equal(store.size, 0);
  });
});

describe("when Redis cannot decide", () => {
  test("the instance decides from its own memory, and says so", async () => {
    let errors = 0;
    const limiter = createRateLimiter({
      redisUrl: "redis://127.0.0.1:1",
      logger: silent,
      onStoreError: () => errors++,
    });
    try {
      const decisions = [];
      for (let i = 0; i < 6; i++) decisions.push((await limiter.consume([login]))[0]!.allowed);
      assert.deepEqual(decisions, [true, true, true, true, true, false], "limits still hold");
      assert.equal(errors, 6);
    } finally {
      await limiter.close();
    }
  });
});

describe("throttle, blocker, IP lists, headers", () => {
  test("token bucket: a burst, then the sustained rate", () => {
    const throttle = new Throttle({ rps: 2, burst: 3 });
    try {
      const t = 1_000_000;
      for (let i = 0; i < 3; i++) assert.equal(throttle.take("a", 1, t).allowed, true);
      const refused = throttle.take("a", 1, t);
      assert.deepEqual(refused, { allowed: false, retryAfterMs: 500 });
      assert.equal(throttle.take("b", 1, t).allowed, true, "per client");
      assert.equal(throttle.take("a", 1, t + 500).allowed, true, "refilled at 2/s");
      assert.equal(throttle.take("a", 3, t + 1000).allowed, false, "a batch costs its size");
      throttle.sweep(t + 10_000);
      assert.equal(throttle.size, 0);
    } finally {
      throttle.close();
    }
  });

  test("blocker: threshold strikes within the window block for the duration", () => {
    const blocked: string[] = [];
    const blocker = new Blocker({ threshold: 3, windowMs: 1000, durationMs: 5000, onBlock: (c) => blocked.push(c) });
    try {
      const t = 1_000_000;
      assert.equal(blocker.strike("a", t), false);
      assert.equal(blocker.strike("a", t + 100), false);
      assert.equal(blocker.strike("a", t + 1500), false, "the first strikes left the window");
      assert.equal(blocker.strike("a", t + 1600), false);
      assert.equal(blocker.strike("a", t + 1700), true);
      assert.deepEqual(blocked, ["a"]);
      assert.equal(blocker.blockedFor("a", t + 1700), 5000);
      assert.equal(blocker.strike("a", t + 1800), false, "no strikes while blocked");
      assert.equal(blocker.blockedFor("a", t + 6700), 0);
      assert.equal(blocker.blockedFor("b", t), 0);
    } finally {
      blocker.close();
    }
  });

  test("CIDR lists, IPv4 and IPv6, deny over allow", () => {
    assert.deepEqual(parseCidrs("10.0.0.0/8, 2001:db8::/32,192.0.2.1"), [
      "10.0.0.0/8",
      "2001:db8::/32",
      "192.0.2.1/32",
    ]);
    assert.throws(() => parseCidrs("10.0.0.0/40"), RangeError);
    assert.throws(() => parseCidrs("example.com"), RangeError);
    const inTen = cidrMatcher(["10.0.0.0/8"]);
    assert.equal(inTen("10.1.2.3"), true);
    assert.equal(inTen("::ffff:10.1.2.3"), true, "IPv4 through a dual-stack socket");
    assert.equal(inTen("11.0.0.1"), false);
    const access = createAccessList(["10.0.0.0/8", "2001:db8::/32"], ["10.9.0.0/16"]);
    assert.equal(access("10.1.0.1"), true);
    assert.equal(access("10.9.0.1"), false);
    assert.equal(access("2001:db8::1"), true);
    assert.equal(access("192.0.2.1"), false);
    assert.equal(createAccessList([], [])("192.0.2.1"), true);
  });

  test("a CIDR matcher's remembered answers stay right through a flood of addresses past its bound", () => {
    const inTen = cidrMatcher(["10.0.0.0/8"]);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < CIDR_MEMO_ENTRIES + 500; i++) {
        const a = (i >> 8) & 255;
        const b = i & 255;
        assert.equal(inTen(`10.${a}.${b}.1`), true);
        assert.equal(inTen(`11.${a}.${b}.1`), false);
        assert.equal(inTen(`::ffff:10.${a}.${b}.2`), true);
      }
    }
    assert.equal(inTen("not an address"), false);
    assert.equal(inTen("not an address"), false);
  });

  test("RateLimit headers in the draft's structured form", () => {
    const headers = rateLimitHeaders([
      {
        coordinate: "Mutation.login",
        allowed: true,
        max: 5,
        windowMs: 60_000,
        remaining: 4,
        resetMs: 59_001,
        retryAfterMs: 0,
      },
      { coordinate: "Query.x", allowed: true, max: 1, windowMs: 1500, remaining: 0, resetMs: 10, retryAfterMs: 0 },
    ]);
    assert.deepEqual(headers, {
      "ratelimit-policy": '"Mutation.login";q=5;w=60, "Query.x";q=1;w=2',
      ratelimit: '"Mutation.login";r=4;t=60, "Query.x";r=0;t=1',
    });
  });
});
