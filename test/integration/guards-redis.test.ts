import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { createRedisStore } from "../../gateway/guards/redis-store.ts";
import { REDIS_URL, redisSkip } from "../helpers/redis.ts";
import { type Services, silent, startServices } from "../helpers/services.ts";

const skip = redisSkip;

async function removeKeys(redis: Redis, prefix: string) {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

describe("the Redis store", { skip }, () => {
  const prefix = `test:guards:${randomUUID()}:`;
  let redis: Redis;
  before(() => {
    redis = new Redis(REDIS_URL);
  });
  after(async () => {
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  test("concurrent operations from several connections spend exactly the budget", async () => {
    const stores = [0, 1, 2].map(() => createRedisStore({ url: REDIS_URL, keyPrefix: prefix, logger: silent }));
    try {
      const request = { identity: "ip:192.0.2.1", coordinate: "Mutation.login", max: 7, windowMs: 60_000, count: 1 };
      const decisions = await Promise.all(
        Array.from({ length: 60 }, (_, i) => stores[i % 3]!.consume([request]).then((d) => d[0]!)),
      );
      assert.equal(decisions.filter((d) => d.allowed).length, 7);
      const refused = decisions.filter((d) => !d.allowed);
      assert.ok(refused.every((d) => d.retryAfterMs > 0 && d.retryAfterMs <= 60_000 && d.remaining === 0));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test("an operation is decided whole: one refused field leaves the others uncounted", async () => {
    const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix, logger: silent });
    try {
      const a = { identity: "user:u1", coordinate: "Query.a", max: 3, windowMs: 60_000, count: 2 };
      const b = { identity: "user:u1", coordinate: "Query.b", max: 1, windowMs: 60_000, count: 2 };
      const refused = await store.consume([a, b]);
      assert.deepEqual(
        refused.map((d) => d.allowed),
        [true, false],
      );
      const alone = await store.consume([a]);
      assert.equal(alone[0]!.allowed, true);
      assert.equal(alone[0]!.remaining, 1, "the refused operation counted nothing");
      // Several fields, one round trip.
      let commands = 0;
      const send = store.redis.sendCommand.bind(store.redis);
      store.redis.sendCommand = ((...args: Parameters<typeof send>) => {
        commands += 1;
        return send(...args);
      }) as typeof send;
      await store.consume([
        { ...a, coordinate: "Query.x" },
        { ...a, coordinate: "Query.y" },
        { ...b, coordinate: "Query.z", max: 5 },
      ]);
      assert.equal(commands, 1);
      // A count above max can never fit.
      const never = await store.consume([{ ...a, coordinate: "Query.c", count: 4 }]);
      assert.equal(never[0]!.allowed, false);
      assert.equal(never[0]!.retryAfterMs, 60_000);
    } finally {
      await store.close();
    }
  });
});

describe("two gateway instances sharing one Redis", { skip }, () => {
  const prefix = `test:guards:${randomUUID()}:`;
  const LIMIT = 7;
  let services: Services;
  let dir: string;
  const gateways: Gateway[] = [];
  const urls: string[] = [];

  before(async () => {
    services = await startServices();
    dir = mkdtempSync(join(tmpdir(), "guards-redis-"));
    const supergraphPath = join(dir, "supergraph.graphql");
    writeFileSync(supergraphPath, services.supergraphSdl);
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        ...services.identity.gatewayEnv,
        SUPERGRAPH_PATH: supergraphPath,
        LOG_LEVEL: "silent",
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMIT_OVERRIDES: `Query.product=${LIMIT}/1m/ip`,
      });
      const gateway = await createGateway(config, { logger: silent });
      gateways.push(gateway);
      urls.push(await gateway.listen(0));
    }
  });
  after(async () => {
    for (const gateway of gateways) await gateway.close();
    await services?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    await removeKeys(redis, prefix);
    redis.disconnect();
  });

  test(`a concurrent burst spread over both lets exactly ${LIMIT} through`, async () => {
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(`${urls[i % 2]}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: '{ product(id: "prod-001") { id } }' }),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 200).length, LIMIT, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 40 - LIMIT);
    // Both instances see the spent budget.
    for (const url of urls) {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: '{ product(id: "prod-002") { id } }' }),
      });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
    }
  });
});
