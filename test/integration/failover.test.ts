import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { createProductsService } from "../../subgraphs/products/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { freePort } from "../helpers/net.ts";
import { type Services, silent, startServices } from "../helpers/services.ts";

let services: Services;
let second: Awaited<ReturnType<typeof createProductsService>>;
let gateway: Gateway;
let url: string;
let dir: string;

/** A URL nothing listens on. */
const deadUrl = async () => `http://127.0.0.1:${await freePort()}/graphql`;

before(async () => {
  services = await startServices();
  second = await createProductsService({
    ...testDatabase(),
    identityKeys: services.identity.forService("products"),
    logger: silent,
  });
  const secondUrl = await second.listen(0);
  dir = mkdtempSync(join(tmpdir(), "failover-"));
  const supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
  const config = loadConfig({
    ...services.identity.gatewayEnv,
    SUPERGRAPH_PATH: supergraphPath,
    SUBGRAPH_URLS: `products=${await deadUrl()}|${services.subgraphUrls.products}|${secondUrl}`,
    // Every request must reach the subgraphs here: the response cache would answer repeats itself.
    RESPONSE_CACHE: "false",
    LOG_LEVEL: "silent",
  });
  gateway = await createGateway(config, { logger: silent });
  url = await gateway.listen(0);
});
after(async () => {
  await gateway?.close();
  await second?.close();
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = (q: string) =>
  fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: q }),
  }).then(async (res) => ({
    status: res.status,
    body: (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
  }));

test("requests are balanced over the healthy instances; a dead one is skipped without failing anyone", async () => {
  const firstBefore = services.products.db.queryCount;
  const secondBefore = second.db.queryCount;
  for (let i = 0; i < 20; i++) {
    const res = await query("{ products(first: 1) { totalCount } }");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.errors, undefined);
  }
  const first = services.products.db.queryCount - firstBefore;
  const other = second.db.queryCount - secondBefore;
  assert.ok(first > 0 && other > 0, `both live instances served (${first} / ${other})`);
});

test("with no instance left, the answer is SUBGRAPH_UNAVAILABLE (503) and the gateway stays up", async () => {
  await second.close();
  await services.products.close();
  const res = await query("{ products(first: 1) { totalCount } }");
  assert.equal(res.status, 503);
  assert.equal(res.body.errors?.[0]?.extensions?.code, "SUBGRAPH_UNAVAILABLE");
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const other = await query('mutation { login(email: "alice@example.com", password: "alice-password") { token } }');
  assert.equal(other.status, 200);
});
