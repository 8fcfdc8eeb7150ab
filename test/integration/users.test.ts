import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { sql } from "kysely";
import { pino } from "pino";
import { generateIdentityKeyPair, parsePrivateKey } from "../../common/identity-keys.ts";
import { ConfigError } from "../../subgraphs/kit/config.ts";
import { IDENTITY_HEADER, signIdentity } from "../../subgraphs/kit/identity.ts";
import { readUsersConfig } from "../../subgraphs/users/config.ts";
import { ADMIN_SCOPE, CUSTOMER_SCOPE } from "../../subgraphs/users/scopes.ts";
import { SEED_USERS } from "../../subgraphs/users/seed.ts";
import { createUsersService, type UsersService } from "../../subgraphs/users/server.ts";
import { testDatabase } from "../helpers/database.ts";
import { testKeys } from "../helpers/identity.ts";

const ISSUER = "urn:shop:users";
const AUDIENCE = "urn:shop:api";
const [ALICE, BOB, ADMIN] = SEED_USERS;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

interface AuthResult {
  token: string;
  user: { id: string; email: string; name: string };
}

type Caller = { userId?: string; scopes?: string[]; service?: string };

/** A caller's identity as the gateway signs it, or a peer service's as the peer signs it. */
async function identityToken(caller: Caller): Promise<string> {
  if (caller.service) return testKeys.sign({}, "users", caller.service);
  return testKeys.sign({ userId: caller.userId ?? null, scopes: new Set(caller.scopes ?? []) }, "users");
}

/** Collects every log line so the test can prove no password is ever written out. */
function capturingLogger(): { lines: string[]; logger: pino.Logger } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: pino({ level: "trace" }, stream) };
}

const AUTH_FIELDS = "token user { id email name }";
const REGISTER = `mutation ($input: RegisterInput!) { register(input: $input) { ${AUTH_FIELDS} } }`;
const LOGIN = `mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`;

describe("users subgraph", () => {
  let service: UsersService;
  let url: string;
  let base: string;
  const logs = capturingLogger();
  const passwordsUsed = new Set<string>(SEED_USERS.map((u) => u.password));

  async function gql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    identity?: string,
  ): Promise<GraphQLResult<T>> {
    for (const value of Object.values(variables)) {
      if (value && typeof value === "object" && "password" in value) passwordsUsed.add(String(value.password));
    }
    if (typeof variables.password === "string") passwordsUsed.add(variables.password);
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(identity ? { [IDENTITY_HEADER]: identity } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as Omit<GraphQLResult<T>, "status">) };
  }

  async function register(input: { email: string; name: string; password: string }) {
    return gql<{ register: AuthResult }>(REGISTER, { input });
  }

  async function login(email: string, password: string) {
    return gql<{ login: AuthResult }>(LOGIN, { email, password });
  }

  async function fetchJwks(): Promise<{ jwks: JSONWebKeySet; cacheControl: string | null }> {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    return { jwks: (await res.json()) as JSONWebKeySet, cacheControl: res.headers.get("cache-control") };
  }

  async function verify(token: string) {
    const { jwks } = await fetchJwks();
    return jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ["ES256"], issuer: ISSUER, audience: AUDIENCE });
  }

  async function userCount(email?: string): Promise<number> {
    const row = email
      ? await service.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users WHERE email = ${email}`)
      : await service.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users`);
    return row!.n;
  }

  before(async () => {
    service = await createUsersService({
      ...testDatabase(),
      identityKeys: testKeys.forService("users"),
      logger: logs.logger,
    });
    url = await service.listen(0);
    base = url.replace(/\/graphql$/, "");
  });

  after(async () => {
    await service?.close();
  });

  test("seeds alice, bob and admin with their scopes", async () => {
    const rows = await service.db.all<{ email: string; scope: string; password_hash: string }>(
      sql`SELECT email, scope, password_hash FROM users ORDER BY email`,
    );
    assert.deepEqual(
      rows.map((r) => [r.email, r.scope]),
      [
        ["admin@example.com", ADMIN_SCOPE],
        ["alice@example.com", CUSTOMER_SCOPE],
        ["bob@example.com", CUSTOMER_SCOPE],
      ],
    );
    for (const row of rows)
      assert.match(row.password_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  });

  test("register returns a token that verifies against the served JWKS, with the right claims", async () => {
    const res = await register({ email: "  Carol@Example.COM ", name: "  Carol  ", password: "carol-secret-1" });
    assert.equal(res.errors, undefined);
    const { token, user } = res.data!.register;
    assert.match(user.id, UUID);
    assert.equal(user.email, "carol@example.com");
    assert.equal(user.name, "Carol");

    const { payload, protectedHeader } = await verify(token);
    assert.equal(protectedHeader.alg, "ES256");
    assert.equal(protectedHeader.typ, "JWT");
    assert.equal(typeof protectedHeader.kid, "string");
    assert.equal(payload.sub, user.id);
    assert.equal(payload.scope, CUSTOMER_SCOPE);
    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.aud, AUDIENCE);
    assert.match(String(payload.jti), UUID);
    assert.equal(payload.exp! - payload.iat!, 3600);
    assert.ok(Math.abs(payload.iat! - Date.now() / 1000) < 60);

    const stored = await service.db.get<{ email: string; password_hash: string }>(
      sql`SELECT email, password_hash FROM users WHERE id = ${user.id}`,
    );
    assert.equal(stored?.email, "carol@example.com");
    assert.ok(!stored?.password_hash.includes("carol-secret-1"));

    const again = await login("carol@example.com", "carol-secret-1");
    assert.equal(again.data?.login.user.id, user.id);
  });

  test("the JWKS publishes public members only and is cacheable", async () => {
    const { jwks, cacheControl } = await fetchJwks();
    assert.equal(cacheControl, "public, max-age=300");
    assert.ok(jwks.keys.length >= 1);
    for (const key of jwks.keys) {
      assert.deepEqual(Object.keys(key).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
      assert.equal(key.alg, "ES256");
      assert.equal(key.use, "sig");
      assert.equal(key.kty, "EC");
      assert.equal(key.crv, "P-256");
    }
  });

  test("login with the seeded accounts issues verifiable tokens", async () => {
    const res = await login("Alice@Example.com", ALICE.password);
    assert.equal(res.errors, undefined);
    assert.equal(res.data!.login.user.id, ALICE.id);
    const { payload } = await verify(res.data!.login.token);
    assert.equal(payload.sub, ALICE.id);
    assert.equal(payload.scope, CUSTOMER_SCOPE);

    const admin = await login(ADMIN.email, ADMIN.password);
    const { payload: adminClaims } = await verify(admin.data!.login.token);
    assert.ok(String(adminClaims.scope).split(" ").includes("admin"));
  });

  test("a wrong password and an unknown email are both UNAUTHENTICATED, indistinguishably", async () => {
    const wrongPassword = await login(ALICE.email, "not-alices-password");
    const unknownEmail = await login("nobody@example.com", ALICE.password);
    const tooLong = await login(ALICE.email, "x".repeat(5000));
    for (const res of [wrongPassword, unknownEmail, tooLong]) {
      assert.equal(res.data, null);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    }
    assert.equal(wrongPassword.errors![0]!.message, unknownEmail.errors![0]!.message);
  });

  const badInputs: { case: string; field: string; input: { email: string; name: string; password: string } }[] = [
    { case: "malformed email", field: "email", input: { email: "not-an-email", name: "X", password: "good-pass-123" } },
    {
      case: "email without domain dot",
      field: "email",
      input: { email: "x@localhost", name: "X", password: "good-pass-123" },
    },
    {
      case: "email with spaces",
      field: "email",
      input: { email: "a b@example.com", name: "X", password: "good-pass-123" },
    },
    {
      case: "email over 254 chars",
      field: "email",
      input: { email: `${"a".repeat(60)}@${"b".repeat(190)}.example.com`, name: "X", password: "good-pass-123" },
    },
    {
      case: "blank name",
      field: "name",
      input: { email: "blankname@example.com", name: "   ", password: "good-pass-123" },
    },
    {
      case: "name over 100 chars",
      field: "name",
      input: { email: "longname@example.com", name: "n".repeat(101), password: "good-pass-123" },
    },
    {
      case: "short password",
      field: "password",
      input: { email: "short@example.com", name: "X", password: "abc-12345" },
    },
    {
      case: "password over 200 chars",
      field: "password",
      input: { email: "longpw@example.com", name: "X", password: `a1${"b".repeat(199)}` },
    },
    {
      case: "letters-only password",
      field: "password",
      input: { email: "letters@example.com", name: "X", password: "abcdefghijklmno" },
    },
    {
      case: "digits-only password",
      field: "password",
      input: { email: "digits@example.com", name: "X", password: "12345678901" },
    },
    {
      case: "password equal to the email",
      field: "password",
      input: { email: "same@example.com", name: "X", password: "Same@Example.com" },
    },
  ];

  for (const bad of badInputs) {
    test(`register refuses a ${bad.case} with BAD_USER_INPUT on "${bad.field}" and writes nothing`, async () => {
      const before = await userCount();
      const res = await register(bad.input);
      assert.equal(res.data, null);
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.field, bad.field);
      assert.equal(await userCount(), before);
      const attempt = await login(bad.input.email, bad.input.password);
      assert.equal(attempt.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    });
  }

  test("registering a taken email (in any case) is BAD_USER_INPUT on email", async () => {
    const before = await userCount();
    const res = await register({ email: " BOB@example.com", name: "Imposter", password: "imposter-pass-1" });
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.equal(res.errors?.[0]?.extensions?.field, "email");
    assert.equal(await userCount(), before);
    const bob = await login(BOB.email, BOB.password);
    assert.equal(bob.data?.login.user.name, "Bob");
  });

  test("five concurrent registrations of one email create exactly one user", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        register({ email: "race@example.com", name: `Racer ${i}`, password: `race-password-${i}` }),
      ),
    );
    const winners = results.filter((r) => r.data?.register);
    const losers = results.filter((r) => r.errors);
    assert.equal(winners.length, 1);
    assert.equal(losers.length, 4);
    for (const loser of losers) {
      assert.equal(loser.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(loser.errors?.[0]?.extensions?.field, "email");
    }
    assert.equal(await userCount("race@example.com"), 1);
  });

  test("me needs an identity and returns the signed-in user", async () => {
    const anonymous = await gql("{ me { id } }");
    assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

    const mine = await gql<{ me: { id: string; email: string } }>(
      "{ me { id email name } }",
      {},
      await identityToken({ userId: ALICE.id, scopes: CUSTOMER_SCOPE.split(" ") }),
    );
    assert.deepEqual(mine.data?.me, { id: ALICE.id, email: ALICE.email, name: ALICE.name });

    const vanished = await gql("{ me { id } }", {}, await identityToken({ userId: "no-such-user" }));
    assert.equal(vanished.errors, undefined);
    assert.deepEqual(vanished.data, { me: null });
  });

  test("user(id): self and admin may read, other customers are FORBIDDEN, unknown ids are null", async () => {
    const query = "query ($id: ID!) { user(id: $id) { id email } }";
    const alice = await identityToken({ userId: ALICE.id, scopes: CUSTOMER_SCOPE.split(" ") });
    const admin = await identityToken({ userId: ADMIN.id, scopes: ADMIN_SCOPE.split(" ") });

    const other = await gql(query, { id: BOB.id }, alice);
    assert.equal(other.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.deepEqual(other.data, { user: null });

    const self = await gql<{ user: { id: string } }>(query, { id: ALICE.id }, alice);
    assert.equal(self.data?.user.id, ALICE.id);

    const asAdmin = await gql<{ user: { id: string; email: string } }>(query, { id: BOB.id }, admin);
    assert.deepEqual(asAdmin.data?.user, { id: BOB.id, email: BOB.email });

    // No peer calls users, so no peer's key is trusted here: a peer cannot read accounts.
    const asService = await gql(query, { id: BOB.id }, await identityToken({ service: "orders" }));
    assert.equal(asService.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

    const unknown = await gql(query, { id: "00000000-0000-4000-8000-000000000000" }, admin);
    assert.equal(unknown.errors, undefined);
    assert.deepEqual(unknown.data, { user: null });

    const anonymous = await gql(query, { id: BOB.id });
    assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  test("an identity token signed with another key is UNAUTHENTICATED", async () => {
    const otherKey = parsePrivateKey(generateIdentityKeyPair().privateKey);
    const forged = await signIdentity(
      { userId: ADMIN.id, scopes: new Set(["admin"]) },
      { issuer: "gateway", privateKey: otherKey },
      "users",
    );
    const res = await gql("{ me { id } }", {}, forged);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.ok(!res.data?.me);
  });

  test("_entities resolves several users with one SQL query and enforces read access", async () => {
    const query = "query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email name } } }";
    const representations = [ALICE.id, BOB.id, ADMIN.id, "00000000-0000-4000-8000-000000000000"].map((id) => ({
      __typename: "User",
      id,
    }));
    const identity = await identityToken({ userId: ADMIN.id, scopes: ADMIN_SCOPE.split(" ") });
    const before = service.db.queryCount;
    const res = await gql<{ _entities: ({ id: string } | null)[] }>(query, { r: representations }, identity);
    assert.equal(service.db.queryCount - before, 1);
    assert.equal(res.errors, undefined);
    assert.deepEqual(
      res.data?._entities.map((e) => e?.id ?? null),
      [ALICE.id, BOB.id, ADMIN.id, null],
    );

    const asAlice = await gql<{ _entities: ({ id: string } | null)[] }>(
      query,
      { r: representations.slice(0, 2) },
      await identityToken({ userId: ALICE.id, scopes: CUSTOMER_SCOPE.split(" ") }),
    );
    assert.equal(asAlice.data?._entities[0]?.id, ALICE.id);
    assert.equal(asAlice.errors?.length, 1);
    assert.equal(asAlice.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  test("rotateSigningKey publishes both keys and signs new tokens with the new kid", async () => {
    const oldToken = (await login(ALICE.email, ALICE.password)).data!.login.token;
    const oldKid = decodeProtectedHeader(oldToken).kid!;

    const newKid = await service.rotateSigningKey();
    assert.notEqual(newKid, oldKid);

    const { jwks } = await fetchJwks();
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid));
    assert.ok(kids.includes(newKid));

    const newToken = (await login(ALICE.email, ALICE.password)).data!.login.token;
    assert.equal(decodeProtectedHeader(newToken).kid, newKid);
    assert.equal((await verify(newToken)).protectedHeader.kid, newKid);
    // Tokens issued before the rotation keep verifying until they expire.
    assert.equal((await verify(oldToken)).payload.sub, ALICE.id);
  });

  test("no password ever reaches the logs", () => {
    const text = logs.lines.join("");
    assert.ok(logs.lines.length > 0);
    for (const password of passwordsUsed) assert.ok(!text.includes(password), "a password was logged");
  });
});

describe("users service start-up", () => {
  test("keys and seed survive a restart on the same database, and token options apply", async () => {
    const dir = await mkdtemp(join(tmpdir(), "users-test-"));
    const options = {
      ...testDatabase(join(dir, "users.db")),
      identityKeys: testKeys.forService("users"),
      logger: pino({ level: "silent" }),
      tokenIssuer: "urn:test:issuer",
      tokenAudience: "urn:test:audience",
      tokenTtlSeconds: 120,
    };
    try {
      const first = await createUsersService(options);
      const firstKeys = (await first.app.inject({ url: "/.well-known/jwks.json" })).json() as JSONWebKeySet;
      await first.close();

      const second = await createUsersService(options);
      try {
        const secondKeys = (await second.app.inject({ url: "/.well-known/jwks.json" })).json() as JSONWebKeySet;
        assert.deepEqual(secondKeys, firstKeys);
        assert.equal((await second.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users`))?.n, 3);

        const url = await second.listen(0);
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: LOGIN, variables: { email: BOB.email, password: BOB.password } }),
        });
        const token = ((await res.json()) as { data: { login: AuthResult } }).data.login.token;
        assert.equal(decodeProtectedHeader(token).kid, firstKeys.keys[0]!.kid);
        const { payload } = await jwtVerify(token, createLocalJWKSet(secondKeys), {
          algorithms: ["ES256"],
          issuer: "urn:test:issuer",
          audience: "urn:test:audience",
        });
        assert.equal(payload.exp! - payload.iat!, 120);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("seed: false starts with no users", async () => {
    const service = await createUsersService({
      ...testDatabase(),
      identityKeys: testKeys.forService("users"),
      logger: pino({ level: "silent" }),
      seed: false,
    });
    try {
      assert.equal((await service.db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM users`))?.n, 0);
    } finally {
      await service.close();
    }
  });

  test("readUsersConfig validates the token settings and names the bad variable", () => {
    const config = readUsersConfig({ TOKEN_TTL_SECONDS: "900", TOKEN_ISSUER: "urn:x", TOKEN_AUDIENCE: "urn:y" });
    assert.equal(config.tokenTtlSeconds, 900);
    assert.equal(config.tokenIssuer, "urn:x");
    assert.equal(config.tokenAudience, "urn:y");
    assert.equal(config.port, 4001);
    assert.equal(readUsersConfig({}).tokenTtlSeconds, 3600);

    for (const [name, value] of [
      ["TOKEN_TTL_SECONDS", "abc"],
      ["TOKEN_TTL_SECONDS", "0"],
      ["TOKEN_TTL_SECONDS", "1.5"],
      ["TOKEN_ISSUER", "has space"],
      ["TOKEN_AUDIENCE", "tab\there"],
    ] as const) {
      assert.throws(
        () => readUsersConfig({ [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      );
    }
  });
});
