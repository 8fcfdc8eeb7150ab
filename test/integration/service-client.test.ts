import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { after, before, test } from "node:test";
import { parse } from "graphql";
import { pino } from "pino";
import { generateIdentityKeyPair, parsePrivateKey } from "../../common/identity-keys.ts";
import { createSubgraphService, type SubgraphContext, type SubgraphService } from "../../subgraphs/kit/server.ts";
import { createServiceClient, type ServiceClient } from "../../subgraphs/kit/service-client.ts";
import { testKeys } from "../helpers/identity.ts";
import { freePort } from "../helpers/net.ts";

// The caller signs with a key of its own; the peer trusts it beside the gateway.
const callerKey = parsePrivateKey(generateIdentityKeyPair().privateKey);
const peerKeys = {
  signing: null,
  trusted: new Map([
    ["gateway", testKeys.publicKey("gateway")],
    ["caller", createPublicKey(callerKey)],
  ]),
};
const silent = pino({ level: "silent" });
const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Query { seen: Seen! }
  type Seen { requestId: String! service: String }
`);

let peer: SubgraphService;
let caller: SubgraphService;
let client: ServiceClient;

before(async () => {
  // The peer reports what it was told about the request; the caller asks it while serving its own.
  peer = await createSubgraphService({
    name: "peer",
    typeDefs,
    identityKeys: peerKeys,
    logger: silent,
    createLoaders: () => ({}),
    resolvers: {
      Query: {
        seen: (_: unknown, __: unknown, ctx: SubgraphContext<object>) => ({
          requestId: ctx.requestId,
          service: ctx.identity.service,
        }),
      },
    },
  });
  const peerUrl = await peer.listen(0);
  client = createServiceClient({
    url: peerUrl,
    peer: "peer",
    signer: { issuer: "caller", privateKey: callerKey },
  });
  caller = await createSubgraphService({
    name: "caller",
    typeDefs,
    identityKeys: testKeys.forService("caller"),
    logger: silent,
    createLoaders: () => ({}),
    resolvers: {
      Query: {
        seen: async () => (await client.request<{ seen: unknown }>("{ seen { requestId service } }")).seen,
      },
    },
  });
  await caller.listen(0);
});
after(async () => {
  await caller?.close();
  await peer?.close();
  await client?.close();
});

test("a peer call carries the serving request's id and a signed service identity", async () => {
  const address = caller.app.server.address() as { port: number };
  const ask = (requestId: string) =>
    fetch(`http://127.0.0.1:${address.port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ query: "{ seen { requestId service } }" }),
    }).then((r) => r.json() as Promise<{ data: { seen: { requestId: string; service: string } } }>);
  // Two requests at once: each peer call must carry its own request's id.
  const [a, b] = await Promise.all([ask("req-aaa"), ask("req-bbb")]);
  assert.deepEqual(a.data.seen, { requestId: "req-aaa", service: "caller" });
  assert.deepEqual(b.data.seen, { requestId: "req-bbb", service: "caller" });
});

test("several instances take turns, and a call none received goes to the next", async () => {
  const address = peer.app.server.address() as { port: number };
  const live = `http://127.0.0.1:${address.port}/graphql`;
  const dead = `http://127.0.0.1:${await freePort()}/graphql`;
  const twoWays = createServiceClient({
    url: `${dead}|${live}`,
    peer: "peer",
    signer: { issuer: "caller", privateKey: callerKey },
  });
  try {
    // Whichever instance each call starts on, every call is answered.
    for (let i = 0; i < 4; i++) {
      const data = await twoWays.request<{ seen: { service: string } }>("{ seen { requestId service } }");
      assert.equal(data.seen.service, "caller");
    }
  } finally {
    await twoWays.close();
  }
  const onlyDead = createServiceClient({
    url: `${dead}|${dead}`,
    peer: "peer",
    signer: { issuer: "caller", privateKey: callerKey },
  });
  await assert.rejects(
    onlyDead.request("{ seen { service } }"),
    (error: Error & { extensions?: { code?: string } }) => {
      return error.extensions?.code === "SUBGRAPH_UNAVAILABLE";
    },
  );
  await onlyDead.close();
});
