import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { type Services, silent, startServices } from "../helpers/services.ts";

/* Where /metrics answers in production: nowhere public by default, behind its token, or on its own port. */

let services: Services;
let dir: string;
let supergraphPath: string;
const TOKEN = "metrics-token-for-tests-0123456789";

before(async () => {
  services = await startServices();
  dir = mkdtempSync(join(tmpdir(), "metrics-access-"));
  supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
});
after(async () => {
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function withGateway(env: Record<string, string>, run: (url: string, gateway: Gateway) => Promise<void>) {
  const config = loadConfig({
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    ...services.identity.gatewayEnv,
    SUPERGRAPH_PATH: supergraphPath,
    LOG_LEVEL: "silent",
    ...env,
  });
  const gateway = await createGateway(config, { logger: silent });
  try {
    await run(await gateway.listen(0), gateway);
  } finally {
    await gateway.close();
  }
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

test("production without METRICS_PORT or METRICS_TOKEN: /metrics is a 404 NOT_FOUND on the public port", async () => {
  await withGateway({}, async (url, gateway) => {
    const res = await get(`${url}/metrics`);
    assert.equal(res.status, 404);
    assert.equal(await codeOf(res), "NOT_FOUND");
    assert.equal(gateway.metricsUrl, null);
    assert.equal((await get(`${url}/healthz`)).status, 200);
  });
});

test("METRICS_TOKEN: /metrics on the public port only with the bearer token", async () => {
  await withGateway({ METRICS_TOKEN: TOKEN }, async (url) => {
    const anonymous = await get(`${url}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.equal(await codeOf(anonymous), "UNAUTHENTICATED");
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer realm="metrics"/);
    const wrong = await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}x` });
    assert.equal(wrong.status, 401);
    const right = await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(right.status, 200);
    assert.match(await right.text(), /^# HELP /m);
  });
});

test("METRICS_PORT: /metrics on a listener of its own, not on the public port", async () => {
  await withGateway({ METRICS_PORT: "0" }, async (url, gateway) => {
    assert.equal((await get(`${url}/metrics`)).status, 404);
    assert.ok(gateway.metricsUrl);
    assert.notEqual(new URL(gateway.metricsUrl).port, new URL(url).port);
    const res = await get(`${gateway.metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^# HELP /m);
    assert.equal((await get(`${gateway.metricsUrl}/graphql`)).status, 404);
  });
});

test("METRICS_PORT and METRICS_TOKEN together: its own port, behind the token", async () => {
  await withGateway({ METRICS_PORT: "0", METRICS_TOKEN: TOKEN }, async (_url, gateway) => {
    assert.equal((await get(`${gateway.metricsUrl}/metrics`)).status, 401);
    assert.equal((await get(`${gateway.metricsUrl}/metrics`, { authorization: `Bearer ${TOKEN}` })).status, 200);
  });
});
