/**
 * What the operation guards cost per request on typical federated queries: the gateway with every
 * guard off against the shop's defaults (throttle exercised, `me` rate-limited so the limiter runs
 * on every request), in memory and, when Redis is up, through Redis.
 * `node --import tsx bench/guards.ts` (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, REDIS_URL).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloGateway } from "@apollo/gateway";
import { type FragmentDefinitionNode, Kind, type OperationDefinitionNode, parse } from "graphql";
import { Redis } from "ioredis";
import { withoutSecurityMarks } from "../gateway/authorization/index.ts";
import { readSchemaPolicies } from "../gateway/guards/directives.ts";
import { createMemoryStore } from "../gateway/guards/memory-store.ts";
import { measureOperation } from "../gateway/guards/shape.ts";
import { walkOperation } from "../gateway/guards/walker.ts";
import { compare, PICTURE_QUERY, shopScenarios, type Variant } from "./lib.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const OFF: Record<string, string> = {
  MAX_DEPTH: "0",
  MAX_INTROSPECTION_DEPTH: "0",
  MAX_ALIASES: "0",
  MAX_ROOT_FIELDS: "0",
  MAX_DIRECTIVES: "0",
  MAX_REPEATED_FIELDS: "0",
  MAX_COST: "0",
  MAX_TOKENS: "0",
  THROTTLE_RPS: "0",
  BLOCK_THRESHOLD: "0",
  RATE_LIMIT_OVERRIDES: "Mutation.login=off,Mutation.register=off,Mutation.placeOrder=off,Mutation.processPayment=off",
};
// Defaults, plus: the throttle runs for loopback (never refusing), and `me` is limited (never reached),
// so every picture request also goes through the rate limiter and its store.
const ON: Record<string, string> = {
  THROTTLE_EXEMPT: "none",
  THROTTLE_RPS: "1000000",
  THROTTLE_BURST: "1000000",
  RATE_LIMIT_OVERRIDES: "Mutation.login=1000/1m/ip,Query.me=1000000/1m",
};

async function redisUp(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const variants: Variant[] = [
  { name: "guards off", env: OFF },
  { name: "guards on (memory)", env: ON },
];
if (await redisUp()) {
  // Keys expire with their window (1 min); the prefix keeps this run apart from anything else.
  variants.push({
    name: "guards on (redis)",
    env: { ...ON, REDIS_URL, REDIS_KEY_PREFIX: `bench:guards:${randomUUID()}:` },
  });
} else {
  console.log(`(no Redis at ${REDIS_URL}: the redis variant is left out)`);
}

await compare({
  title: "operation guards: all off (baseline) vs the shop's defaults",
  variants,
  scenarios: (ctx) => shopScenarios(ctx, "me+orders+items+payment (4 fetches, rate-limited field)"),
});

/**
 * The same work in isolation, in this process: end-to-end figures on a busy machine are noisy, and
 * the guards' share of a request is small. Per picture request the gateway runs the walk (cost and
 * limited calls) and, for a limited field, one store decision; the shape measure runs once per
 * distinct document (Apollo Server caches validated documents).
 */
async function micro() {
  const sdl = readFileSync(new URL("../schema/supergraph.graphql", import.meta.url), "utf8");
  const gateway = new ApolloGateway({
    supergraphSdl: withoutSecurityMarks(sdl),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const { schema } = await gateway.load();
  const document = parse(PICTURE_QUERY);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const read = readSchemaPolicies(sdl);
  const policies = { ...read, defaultListSize: 10 };
  const store = createMemoryStore();
  const time = async (name: string, n: number, fn: () => unknown) => {
    for (let i = 0; i < 1000; i++) await fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    const us = Number(process.hrtime.bigint() - start) / 1000 / n;
    console.log(`  ${name.padEnd(52)}${us.toFixed(2).padStart(8)} µs`);
  };
  console.log("in-process, per operation (the picture query):");
  await time("shape measure (once per distinct document)", 50_000, () => measureOperation(operation, fragments));
  await time("walk: cost and limited calls", 50_000, () => walkOperation(schema, operation, fragments, {}, policies));
  let n = 0;
  await time("memory store decision (graphql-rate-limit)", 20_000, () =>
    store.consume([{ identity: `user:${n++ % 1000}`, coordinate: "Query.me", max: 1e6, windowMs: 60_000, count: 1 }]),
  );
  await store.close();
  await gateway.stop();
}

await micro();
