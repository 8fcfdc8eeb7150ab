import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { composeFile, DEFAULT_CONFIG, readSupergraphEntries } from "../../schema/compose.ts";
import { ALICE, BOB, createReviewsService } from "../fixtures/reviews/server.ts";
import { type Services, silent, startServices } from "../helpers/services.ts";

/** Products whose fetches the hop holds: distinct, since the gateway shares identical in-flight fetches. */
const HELD_IDS = ["prod-002", "prod-003", "prod-004", "prod-005", "prod-006"];

/**
 * An HTTP hop in front of the products service that can hold the requests for one product: the
 * test decides when they finish, so it knows they are in flight while the supergraph changes.
 */
async function holdingProxy(target: string) {
  let holding = false;
  const held: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString();
      if (holding && HELD_IDS.some((id) => body.includes(id))) await new Promise<void>((release) => held.push(release));
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          ([k, v]) => typeof v === "string" && !["host", "content-length", "connection"].includes(k),
        ),
      ) as Record<string, string>;
      const upstream = await fetch(target, { method: req.method, headers, body });
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    hold: () => {
      holding = true;
    },
    heldCount: () => held.length,
    release: () => {
      holding = false;
      for (const r of held.splice(0)) r();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A supergraph.yaml of the shop's four subgraphs at these URLs, plus any more entries. */
function writeConfig(file: string, urls: Record<string, string>, more: Record<string, string> = {}) {
  const lines = ["subgraphs:"];
  for (const entry of readSupergraphEntries(DEFAULT_CONFIG)) {
    if (entry.schema.kind !== "file") continue;
    lines.push(
      `  ${entry.name}:`,
      `    routing_url: ${urls[entry.name]}`,
      `    schema: { file: ${entry.schema.path} }`,
    );
  }
  for (const [name, url] of Object.entries(more)) {
    // The running service tells its own schema, as `rover` reads it: `_service { sdl }`.
    lines.push(`  ${name}:`, `    routing_url: ${url}`, `    schema: { subgraph_url: ${url} }`);
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
}

let dir: string;
let services: Services;
let proxy: Awaited<ReturnType<typeof holdingProxy>>;
let reviews: Awaited<ReturnType<typeof createReviewsService>>;
let gateway: Gateway;
let url: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "hot-add-"));
  services = await startServices();
  proxy = await holdingProxy(services.subgraphUrls.products);
  reviews = await createReviewsService({ identityKeys: services.identity.forService("reviews"), logger: silent });
});
after(async () => {
  proxy?.release();
  await gateway?.close().catch(() => {});
  await reviews?.close().catch(() => {});
  await proxy?.close();
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  started: number;
  ended: number;
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
}

const dataOf = <T>(outcome: Outcome): T => {
  assert.ok(outcome.body.data, JSON.stringify(outcome.body));
  return outcome.body.data as T;
};

async function query(q: string, token?: string): Promise<Outcome> {
  const started = performance.now();
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query: q }),
  });
  const body = (await res.json()) as Outcome["body"];
  return { started, ended: performance.now(), status: res.status, body };
}

test("a fifth subgraph is added to a running gateway: requests in flight finish, none fails, its fields answer", async () => {
  const urls = { ...services.subgraphUrls, products: proxy.url };
  const configPath = join(dir, "supergraph.yaml");
  const supergraphPath = join(dir, "supergraph.graphql");
  writeConfig(configPath, urls);
  await composeFile(configPath, supergraphPath);
  gateway = await createGateway(
    loadConfig({
      ...services.identity.gatewayEnv,
      SUPERGRAPH_PATH: supergraphPath,
      PORT: "0",
      LOG_LEVEL: "silent",
    }),
    { logger: silent },
  );
  url = await gateway.listen(0);
  const before = gateway.supergraph.state!;
  const reviewsQuery = '{ product(id: "prod-001") { name reviews { rating author { id } } } }';
  assert.equal((await query(reviewsQuery)).body.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");

  // A steady stream of catalogue reads from four clients, before, during and after the change.
  let streaming = true;
  const stream: Outcome[] = [];
  const clients = Array.from({ length: 4 }, async () => {
    while (streaming) stream.push(await query("{ products(first: 3) { nodes { id name priceCents } } }"));
  });
  // And requests the products hop holds until the new supergraph is in place.
  proxy.hold();
  const heldRequests = HELD_IDS.map((id) => query(`{ product(id: "${id}") { id name stock } }`));
  const deadline = Date.now() + 10_000;
  while (proxy.heldCount() < HELD_IDS.length) {
    if (Date.now() > deadline) throw new Error("the held requests never reached the products service");
    await new Promise((r) => setTimeout(r, 10));
  }

  const reviewsUrl = await reviews.listen(0);
  writeConfig(configPath, urls, { reviews: reviewsUrl });
  const changed = performance.now();
  await composeFile(configPath, supergraphPath);
  while (gateway.supergraph.state!.version === before.version) {
    if (Date.now() > deadline + 10_000) throw new Error("the gateway never took the new supergraph");
    await new Promise((r) => setTimeout(r, 10));
  }
  const reloaded = performance.now();
  const afterReload = stream.length;
  proxy.release();
  const held = await Promise.all(heldRequests);
  while (stream.length < afterReload + 20) await new Promise((r) => setTimeout(r, 10));
  streaming = false;
  await Promise.all(clients);

  // The same gateway, one reload, and the requests it had in flight all answered.
  assert.equal(gateway.supergraph.state!.reloads, 1);
  for (const [i, r] of held.entries()) {
    assert.ok(r.started < changed && r.ended > reloaded, "in flight from before the change until after the reload");
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined);
    const product = dataOf<{ product: { id: string; name: string; stock: number } }>(r).product;
    assert.equal(product.id, HELD_IDS[i]);
    assert.ok(product.name.length > 0 && Number.isInteger(product.stock));
  }
  const failed = stream.filter((r) => r.status !== 200 || r.body.errors !== undefined || !r.body.data);
  assert.deepEqual(failed, []);
  assert.ok(
    stream.some((r) => r.started < changed),
    "the stream ran before the change",
  );
  assert.ok(
    stream.some((r) => r.started > reloaded),
    "and after the reload",
  );

  // The new fields answer through the same gateway: Product.reviews and User.reviews.
  const product = await query(reviewsQuery);
  assert.equal(product.body.errors, undefined);
  assert.deepEqual(dataOf<{ product: { reviews: unknown } }>(product).product.reviews, [
    { rating: 5, author: { id: ALICE } },
    { rating: 3, author: { id: BOB } },
  ]);
  const login = await query('mutation { login(email: "alice@example.com", password: "alice-password") { token } }');
  const token = dataOf<{ login: { token: string } }>(login).login.token;
  const mine = await query("{ me { name reviews { body product { name } } } }", token);
  assert.equal(mine.body.errors, undefined);
  const me = dataOf<{ me: { reviews: { body: string; product: { name: string } }[] } }>(mine).me;
  assert.deepEqual(
    me.reviews.map((r) => r.body),
    ["Does what it says.", "Good value."],
  );
  assert.ok(me.reviews.every((r) => r.product.name.length > 0));
});
