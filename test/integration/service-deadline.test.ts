import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { parse } from "graphql";
import { pino } from "pino";
import { createServiceClient, createSubgraphService, type SubgraphService } from "../../subgraphs/kit/index.ts";
import { createTestIdentityKeys } from "../helpers/identity.ts";

// "test" signs its peer calls as orders would; the peer here only records what it was told.
const keys = createTestIdentityKeys();
const peerSeen: IncomingHttpHeaders[] = [];
let resolved = 0;
let peer: ReturnType<typeof createServer>;
let service: SubgraphService;
let url: string;
let token: string;

before(async () => {
  // The peer answers every call; it only records what it was told.
  peer = createServer((req, res) => {
    peerSeen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" }).end('{"data":{"n":1}}');
  });
  await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
  const client = createServiceClient({
    url: `http://127.0.0.1:${(peer.address() as AddressInfo).port}/graphql`,
    peer: "products",
    signer: keys.forService("orders").signing!,
  });
  service = await createSubgraphService({
    name: "test",
    typeDefs: parse("type Query { peer: Int }"),
    resolvers: {
      Query: {
        peer: async () => {
          resolved++;
          return (await client.request<{ n: number }>("{ n }")).n;
        },
      },
    },
    createLoaders: () => ({}),
    identityKeys: keys.forService("test"),
    logger: pino({ level: "silent" }),
    onClose: () => client.close(),
  });
  url = await service.listen(0);
  token = await keys.sign({}, "test");
});
after(async () => {
  await service?.close();
  peer?.close();
});

const ask = (headers: Record<string, string>) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-identity-token": token, ...headers },
    body: JSON.stringify({ query: "{ peer }" }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

test("a request whose caller has given up is refused with 504 DEADLINE_EXCEEDED, and nothing runs", async () => {
  const before = resolved;
  const res = await ask({ "x-request-timeout-ms": "0" });
  assert.equal(res.status, 504);
  assert.equal((res.body.errors as { extensions: { code: string } }[])[0]!.extensions.code, "DEADLINE_EXCEEDED");
  assert.equal(resolved, before);
});

test("the time left goes on to the peers a request calls; without one, none is invented", async () => {
  const res = await ask({ "x-request-timeout-ms": "800" });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const told = Number(peerSeen.at(-1)!["x-request-timeout-ms"]);
  assert.ok(told > 0 && told <= 800, `the peer got what was left (${told} ms)`);

  const plain = await ask({});
  assert.equal(plain.status, 200);
  assert.equal(peerSeen.at(-1)!["x-request-timeout-ms"], undefined);
});
