import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { pino } from "pino";
import { ConfigError } from "../../subgraphs/kit/config.ts";
import { DEMO_OAUTH_CLIENT } from "../../subgraphs/users/oauth.ts";
import { readOAuthConfig } from "../../subgraphs/users/oauth-config.ts";
import { createUsersService, type UsersService } from "../../subgraphs/users/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";

const silent = pino({ level: "silent" });
const INTROSPECTOR = { id: "resource-server", secret: "resource-server-secret-0123456789" };
const OTHER = { id: "other-client", secret: "other-client-secret-0123", scope: "catalog:read" };

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

interface OAuthAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe("users service as an OAuth 2.0 authorization server", () => {
  let service: UsersService;
  let base: string;

  before(async () => {
    service = await createUsersService({
      ...testDatabase(),
      identityKeys: testKeys.forService("users"),
      logger: silent,
      oauthClients: [{ ...INTROSPECTOR, scope: "", introspect: true }, OTHER],
    });
    base = new URL("/", await service.listen(0)).toString().replace(/\/$/, "");
  });
  after(() => service.close());

  async function post(
    path: string,
    params: Record<string, string> | string,
    headers: Record<string, string> = {},
  ): Promise<OAuthAnswer> {
    const body = typeof params === "string" ? params : new URLSearchParams(params).toString();
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === "" ? {} : JSON.parse(text) };
  }

  const token = async (scope?: string, client = DEMO_OAUTH_CLIENT) => {
    const res = await post(
      "/oauth/token",
      { grant_type: "client_credentials", ...(scope !== undefined && { scope }) },
      { authorization: basic(client.id, client.secret) },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.access_token as string;
  };
  const introspect = (value: string, credentials = INTROSPECTOR) =>
    post("/oauth/introspect", { token: value }, { authorization: basic(credentials.id, credentials.secret) });

  test("client credentials with HTTP Basic: an opaque token, all of the client's scopes, never cached", async () => {
    const res = await post(
      "/oauth/token",
      { grant_type: "client_credentials" },
      { authorization: basic(DEMO_OAUTH_CLIENT.id, DEMO_OAUTH_CLIENT.secret) },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.body.access_token as string, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(res.body.expires_in, 3600);
    assert.equal(res.body.scope, DEMO_OAUTH_CLIENT.scope);
    // Only the hash is stored.
    const rows = await service.db.all<{ token_hash: string }>(sql`SELECT token_hash FROM oauth_tokens`);
    const hash = createHash("sha256")
      .update(res.body.access_token as string)
      .digest("hex");
    assert.ok(rows.some((row) => row.token_hash === hash));
    assert.ok(
      !JSON.stringify(await service.db.all(sql`SELECT * FROM oauth_tokens`)).includes(res.body.access_token as string),
    );
  });

  test("client_secret_post works; a requested scope must be a subset of the client's", async () => {
    const post1 = await post("/oauth/token", {
      grant_type: "client_credentials",
      client_id: DEMO_OAUTH_CLIENT.id,
      client_secret: DEMO_OAUTH_CLIENT.secret,
      scope: "orders:read",
    });
    assert.equal(post1.status, 200);
    assert.equal(post1.body.scope, "orders:read");
    for (const scope of ["admin", "orders:read admin", 'bad"scope']) {
      const res = await post(
        "/oauth/token",
        { grant_type: "client_credentials", scope },
        { authorization: basic(DEMO_OAUTH_CLIENT.id, DEMO_OAUTH_CLIENT.secret) },
      );
      assert.equal(res.status, 400, scope);
      assert.equal(res.body.error, "invalid_scope", scope);
    }
  });

  test("wrong, unknown or missing client credentials are invalid_client (401 with a Basic challenge)", async () => {
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ grant_type: "client_credentials" }, { authorization: basic(DEMO_OAUTH_CLIENT.id, "wrong-secret-wrong") }],
      [{ grant_type: "client_credentials" }, { authorization: basic("nobody", "whatever-secret-123") }],
      [{ grant_type: "client_credentials", client_id: DEMO_OAUTH_CLIENT.id, client_secret: "nope" }, {}],
      [{ grant_type: "client_credentials" }, {}],
      [{ grant_type: "client_credentials" }, { authorization: "Basic !!!" }],
    ];
    for (const [params, headers] of cases) {
      const res = await post("/oauth/token", params, headers);
      assert.equal(res.status, 401, JSON.stringify(params));
      assert.equal(res.body.error, "invalid_client");
      assert.match(res.headers.get("www-authenticate") ?? "", /^Basic /);
      assert.equal(res.headers.get("cache-control"), "no-store");
    }
  });

  test("malformed requests: invalid_request and unsupported_grant_type", async () => {
    const auth = { authorization: basic(DEMO_OAUTH_CLIENT.id, DEMO_OAUTH_CLIENT.secret) };
    const unsupported = await post("/oauth/token", { grant_type: "password" }, auth);
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.body.error, "unsupported_grant_type");

    const invalid: [string, Record<string, string>][] = [
      ["scope=orders:read", auth],
      ["grant_type=client_credentials&grant_type=client_credentials", auth],
      [
        `grant_type=client_credentials&client_secret=${DEMO_OAUTH_CLIENT.secret}`,
        auth, // two authentication methods at once
      ],
    ];
    for (const [body, headers] of invalid) {
      const res = await post("/oauth/token", body, headers);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error, "invalid_request", body);
    }
    const json = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: string }).error, "invalid_request");
  });

  test("introspection: the allowed client learns scope, client, expiry; others may not ask", async () => {
    const value = await token("catalog:read");
    const res = await introspect(value);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.body.active, true);
    assert.equal(res.body.scope, "catalog:read");
    assert.equal(res.body.client_id, DEMO_OAUTH_CLIENT.id);
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(res.body.sub, undefined);
    const exp = res.body.exp as number;
    const iat = res.body.iat as number;
    assert.equal(exp - iat, 3600);
    assert.ok(Math.abs(iat - Date.now() / 1000) < 60);

    const notAllowed = await introspect(value, DEMO_OAUTH_CLIENT);
    assert.equal(notAllowed.status, 403);
    assert.equal(notAllowed.body.error, "unauthorized_client");
    const wrong = await introspect(value, { ...INTROSPECTOR, secret: "not-the-secret-at-all" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, "invalid_client");
    const missing = await post("/oauth/introspect", {}, { authorization: basic(INTROSPECTOR.id, INTROSPECTOR.secret) });
    assert.equal(missing.body.error, "invalid_request");
  });

  test("unknown, expired and revoked tokens introspect as inactive", async () => {
    assert.deepEqual((await introspect("no-such-token")).body, { active: false });
    assert.deepEqual((await introspect("a".repeat(2000))).body, { active: false });

    const expired = await token();
    await service.db.run(
      sql`UPDATE oauth_tokens SET expires_at = ${Math.floor(Date.now() / 1000) - 1} WHERE token_hash = ${createHash("sha256").update(expired).digest("hex")}`,
    );
    assert.deepEqual((await introspect(expired)).body, { active: false });

    const revoked = await token();
    const auth = { authorization: basic(DEMO_OAUTH_CLIENT.id, DEMO_OAUTH_CLIENT.secret) };
    const res = await post("/oauth/revoke", { token: revoked, token_type_hint: "access_token" }, auth);
    assert.equal(res.status, 200);
    assert.deepEqual((await introspect(revoked)).body, { active: false });
  });

  test("revocation: 200 for unknown tokens, refused for another client's token", async () => {
    const auth = { authorization: basic(DEMO_OAUTH_CLIENT.id, DEMO_OAUTH_CLIENT.secret) };
    assert.equal((await post("/oauth/revoke", { token: "never-issued" }, auth)).status, 200);

    const theirs = await token(undefined, OTHER);
    const res = await post("/oauth/revoke", { token: theirs }, auth);
    assert.equal(res.status, 400);
    assert.equal(res.body.error, "unauthorized_client");
    assert.equal((await introspect(theirs)).body.active, true);
    const unauthenticated = await post("/oauth/revoke", { token: theirs });
    assert.equal(unauthenticated.status, 401);
  });

  test("client secrets are stored as scrypt hashes", async () => {
    const rows = await service.db.all<{ client_id: string; secret_hash: string }>(
      sql`SELECT client_id, secret_hash FROM oauth_clients ORDER BY client_id`,
    );
    assert.deepEqual(
      rows.map((row) => row.client_id),
      [OTHER.id, DEMO_OAUTH_CLIENT.id, INTROSPECTOR.id],
    );
    for (const row of rows) assert.match(row.secret_hash, /^scrypt\$/);
    assert.ok(!JSON.stringify(rows).includes(OTHER.secret));
  });
});

describe("OAuth clients from configuration", () => {
  test("the environment is validated, naming the variable", () => {
    const bad: Record<string, string>[] = [
      { OAUTH_CLIENTS: "not json" },
      { OAUTH_CLIENTS: '{"id":"a"}' },
      { OAUTH_CLIENTS: '[{"id":"a:b","secret":"0123456789abcdef","scope":""}]' },
      { OAUTH_CLIENTS: '[{"id":"a","secret":"short","scope":""}]' },
      { OAUTH_CLIENTS: '[{"id":"a","secret":"0123456789abcdef","scope":"x\\"y"}]' },
      { OAUTH_CLIENTS: '[{"id":"a","secret":"0123456789abcdef","scope":"","extra":1}]' },
      {
        OAUTH_CLIENTS:
          '[{"id":"a","secret":"0123456789abcdef","scope":""},{"id":"a","secret":"0123456789abcdef","scope":""}]',
      },
      { OAUTH_INTROSPECTION_CLIENT_ID: "gateway" },
      { OAUTH_TOKEN_TTL_SECONDS: "0" },
    ];
    for (const env of bad) {
      const name = Object.keys(env)[0]!;
      assert.throws(
        () => readOAuthConfig(env),
        (error: Error) => error instanceof ConfigError && error.message.includes(name.slice(0, 12)),
        JSON.stringify(env),
      );
    }
    const good = readOAuthConfig({
      OAUTH_CLIENTS: '[{"id":"reports","secret":"0123456789abcdef","scope":"orders:read","tokenTtlSeconds":60}]',
      OAUTH_INTROSPECTION_CLIENT_ID: "gateway",
      OAUTH_INTROSPECTION_CLIENT_SECRET: "gateway-secret-0123456789",
      OAUTH_TOKEN_TTL_SECONDS: "120",
    });
    assert.deepEqual(
      good.clients.map((client) => [client.id, client.introspect ?? false]),
      [
        ["reports", false],
        ["gateway", true],
      ],
    );
    assert.equal(good.tokenTtlSeconds, 120);
  });

  test("clients not configured (or the demo client in production) are deleted with their tokens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oauth-clients-"));
    const common = {
      ...testDatabase(join(dir, "users.db")),
      identityKeys: testKeys.forService("users"),
      logger: silent,
    };
    try {
      const development = await createUsersService({ ...common, oauthClients: [OTHER] });
      await development.close();
      const production = await createUsersService({ ...common, seed: false, oauthClients: [] });
      try {
        assert.equal((await production.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM oauth_clients`))!.n, 0);
      } finally {
        await production.close();
      }
      const again = await createUsersService({ ...common, seed: false, oauthClients: [OTHER] });
      try {
        const ids = await again.db.all<{ client_id: string }>(sql`SELECT client_id FROM oauth_clients`);
        assert.deepEqual(
          ids.map((row) => row.client_id),
          [OTHER.id],
        );
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
