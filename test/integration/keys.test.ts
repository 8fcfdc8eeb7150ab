import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { decodeProtectedHeader } from "jose";
import { pino } from "pino";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { type Services, startServices } from "../helpers/services.ts";

let services: Services;
let gateway: Gateway;
let url: string;
let dir: string;
const logLines: string[] = [];

before(async () => {
  services = await startServices();
  dir = mkdtempSync(join(tmpdir(), "keys-"));
  const supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
  const config = loadConfig({
    ...services.identity.gatewayEnv,
    SUPERGRAPH_PATH: supergraphPath,
    JWKS_CACHE_SECONDS: "1",
    // Every request goes to the key set here: remembering verified tokens would hide the outage.
    JWT_CACHE_SECONDS: "0",
    JWKS_REFRESH_COOLDOWN_SECONDS: "0",
    RATE_LIMIT_OVERRIDES: "Mutation.login=1000/1m/ip",
  });
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  gateway = await createGateway(config, { logger: pino({ level: "info" }, sink) });
  url = await gateway.listen(0);
});
after(async () => {
  await gateway?.close();
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gql(query: string, token?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] } };
}

const login = async () =>
  (
    (await gql('mutation { login(email: "alice@example.com", password: "alice-password") { token } }')).body.data!
      .login as { token: string }
  ).token;

test("key rotation at the issuer needs no gateway restart; old tokens keep working", async () => {
  const before = await login();
  assert.equal((await gql("{ me { email } }", before)).status, 200);

  const newKid = await services.users.rotateSigningKey();
  const after = await login();
  assert.equal(decodeProtectedHeader(after).kid, newKid);
  assert.notEqual(decodeProtectedHeader(before).kid, newKid);
  for (const token of [after, before]) {
    const res = await gql("{ me { email } }", token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.data, { me: { email: "alice@example.com" } });
  }
});

test("with the issuer down, the gateway verifies with the keys it had and says so", async () => {
  const token = await login();
  assert.equal((await gql("{ products(first: 1) { totalCount } }", token)).status, 200);
  await services.users.close();
  // Keys are kept for 1 s here; poll, bounded, until the gateway has tried to refresh and logged it.
  const deadline = Date.now() + 15_000;
  while (!logLines.some((line) => line.includes("JWKS unreachable"))) {
    assert.ok(Date.now() < deadline, "the gateway logged the JWKS outage");
    const res = await gql("{ products(first: 1) { totalCount } }", token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = await gql("{ products(first: 1) { totalCount } }", token);
  assert.equal(res.status, 200);
  assert.equal((await gql("{ products(first: 1) { totalCount } }", `${token.slice(0, -4)}AAAA`)).status, 401);
});
