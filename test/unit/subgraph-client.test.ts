import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "graphql";
import { decodeJwt } from "jose";
import { developmentIdentityKey } from "../../common/identity-keys.ts";
import type { SubgraphCallContext } from "../../gateway/context.ts";
import {
  IdentitySigner,
  SubgraphDataSource,
  type SubgraphRequest,
  type SubgraphTransport,
} from "../../gateway/upstream/index.ts";

const GATEWAY_KEY = { issuer: "gateway", privateKey: developmentIdentityKey("gateway") };
const alice = { userId: "u1", clientId: null, scopes: new Set(["orders:read"]) };
const bob = { userId: "u2", clientId: null, scopes: new Set(["orders:read"]) };

/** A transport that holds every request until `release()`, counting what reached it. */
function heldTransport() {
  const sent: SubgraphRequest[] = [];
  const waiting: (() => void)[] = [];
  const transport: SubgraphTransport = (url, request) => {
    sent.push(request);
    return new Promise((resolve) =>
      waiting.push(() =>
        resolve({
          status: 200,
          url,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ data: { me: { id: "u1", n: sent.length } } }),
        }),
      ),
    );
  };
  return {
    transport,
    sent,
    release: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

/** Waits (bounded) until the transport has seen n requests; signing the identity takes a few turns. */
async function sentCount(held: { sent: unknown[] }, n: number): Promise<number> {
  // Bounded in time, not turns: signing runs on the thread pool, slow on a loaded machine.
  const deadline = Date.now() + 5000;
  while (held.sent.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
  // One more turn lets a wrongly unshared duplicate show up too.
  await new Promise((resolve) => setTimeout(resolve, 5));
  return held.sent.length;
}

function call(source: SubgraphDataSource, query: string, identity = alice, variables?: Record<string, unknown>) {
  const context: SubgraphCallContext = { identity, requestId: "r1" };
  return source.process({
    kind: "incoming operation",
    request: { query, ...(variables && { variables }) },
    context,
    document: parse(query),
    incomingRequestContext: {} as never,
    pathInIncomingRequest: [],
  } as never);
}

test("identical query fetches in flight together share one subgraph request; each gets its own copy", async () => {
  const held = heldTransport();
  const source = new SubgraphDataSource({
    name: "users",
    url: "http://a/",
    send: held.transport,
    signer: new IdentitySigner(GATEWAY_KEY),
  });
  const query = "query Q__users__0{me{id}}";
  const pending = [call(source, query), call(source, query), call(source, query)];
  assert.equal(await sentCount(held, 1), 1);
  held.release();
  const [a, b, c] = await Promise.all(pending);
  assert.deepEqual(a, b);
  assert.deepEqual(b, c);
  (a!.data as { me: { id: string } }).me.id = "changed";
  assert.equal((b!.data as { me: { id: string } }).me.id, "u1", "consumers must not share one mutable result");

  // Once answered, the next identical fetch goes to the subgraph again.
  const later = call(source, query);
  assert.equal(await sentCount(held, 2), 2);
  held.release();
  await later;
});

test("no sharing across callers, variables, or for mutations; or when turned off", async () => {
  const held = heldTransport();
  const source = new SubgraphDataSource({
    name: "users",
    url: "http://a/",
    send: held.transport,
    signer: new IdentitySigner(GATEWAY_KEY),
  });
  const query = "query Q__users__0($id:ID!){user(id:$id){id}}";
  const mutation = "mutation M__users__0{login{token}}";
  const pending = [
    call(source, query, alice, { id: "1" }),
    call(source, query, bob, { id: "1" }),
    call(source, query, alice, { id: "2" }),
    call(source, mutation),
    call(source, mutation),
  ];
  assert.equal(await sentCount(held, 5), 5);
  held.release();
  await Promise.all(pending);

  const off = heldTransport();
  const undeduped = new SubgraphDataSource({
    name: "users",
    url: "http://a/",
    send: off.transport,
    signer: new IdentitySigner(GATEWAY_KEY),
    dedupe: false,
  });
  const twice = [call(undeduped, "query Q{me{id}}"), call(undeduped, "query Q{me{id}}")];
  assert.equal(await sentCount(off, 2), 2);
  off.release();
  await Promise.all(twice);
});

test("identity tokens are reused per identity until shortly before they expire", async () => {
  const clock = { t: 1_000_000 };
  const signer = new IdentitySigner(GATEWAY_KEY, () => clock.t);
  const first = await signer.tokenFor(alice, "users");
  assert.equal(await signer.tokenFor({ ...alice, scopes: new Set(["orders:read"]) }, "users"), first);
  assert.notEqual(await signer.tokenFor(bob, "users"), first);
  assert.notEqual(await signer.tokenFor({ ...alice, scopes: new Set(["admin"]) }, "users"), first);
  assert.equal(signer.tokenFor({ userId: null, clientId: null, scopes: new Set() }, "users"), null);
  const claims = decodeJwt(first!);
  assert.equal(claims.sub, "u1");
  assert.equal(claims.scope, "orders:read");
  assert.equal(claims.aud, "subgraph:users");
  assert.equal(claims.iss, "gateway");
  // Each subgraph gets a token for its own audience, never one another subgraph would accept.
  const forOrders = await signer.tokenFor(alice, "orders");
  assert.notEqual(forOrders, first);
  assert.equal(decodeJwt(forOrders!).aud, "subgraph:orders");
  // The same signing is handed out until 45 s on (15 s before the 60 s expiry), then a new one.
  const signing = signer.tokenFor(alice, "users");
  clock.t += 44_000;
  assert.equal(signer.tokenFor(alice, "users"), signing);
  clock.t += 2_000;
  assert.notEqual(signer.tokenFor(alice, "users"), signing);
});

test("the identity token, request id and content type reach the subgraph; never the client's credentials", async () => {
  const held = heldTransport();
  const source = new SubgraphDataSource({
    name: "users",
    url: "http://a/",
    send: held.transport,
    signer: new IdentitySigner(GATEWAY_KEY),
  });
  const pending = call(source, "query Q{me{id}}");
  await sentCount(held, 1);
  const headers = held.sent[0]!.headers;
  assert.equal(headers["content-type"], "application/json");
  assert.equal(headers["x-request-id"], "r1");
  assert.equal(decodeJwt(headers["x-identity-token"]!).sub, "u1");
  assert.equal(headers.authorization, undefined);
  held.release();
  await pending;
});
