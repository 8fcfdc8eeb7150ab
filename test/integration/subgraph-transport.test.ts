import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { createSubgraphTransport } from "../../gateway/upstream/index.ts";
import { freePort } from "../helpers/net.ts";

test("each fetch gets min(remaining deadline, subgraph timeout), says so in a header, and is cut off there", async () => {
  const seen: IncomingMessage["headers"][] = [];
  // /slow never answers; /healthz answers; /graphql answers at once.
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === "/slow") return;
    res.writeHead(200, { "content-type": "application/json" }).end('{"data":{}}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { transport, probe, close } = createSubgraphTransport(5000);
  try {
    await transport(`${base}/graphql`, { headers: {}, body: "{}", deadline: Date.now() + 2000 });
    const told = Number(seen[0]!["x-request-timeout-ms"]);
    assert.ok(told > 1500 && told <= 2000, `the deadline's remainder, not the 5 s timeout (${told})`);
    await transport(`${base}/graphql`, { headers: {}, body: "{}" });
    assert.equal(seen[1]!["x-request-timeout-ms"], "5000");

    const started = Date.now();
    await assert.rejects(
      transport(`${base}/slow`, { headers: {}, body: "{}", deadline: Date.now() + 300 }),
      (error: Error & { code?: string }) => error.code === "UND_ERR_HEADERS_TIMEOUT",
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2000, `cut off at the deadline (${elapsed} ms)`);

    const count = seen.length;
    await assert.rejects(
      transport(`${base}/graphql`, { headers: {}, body: "{}", deadline: Date.now() - 1 }),
      (error: Error & { code?: string }) => error.code === "EDEADLINE",
    );
    assert.equal(seen.length, count, "nothing is sent past the deadline");

    assert.equal(await probe(`${base}/graphql`, 500), true);
    assert.equal(seen.at(-1)!.host, new URL(base).host);
    const refused = `http://127.0.0.1:${await freePort()}/graphql`;
    await assert.rejects(probe(refused, 500));
    assert.equal(seen.at(-1)!.host, new URL(base).host);
  } finally {
    server.closeAllConnections();
    server.close();
    await close();
  }
});
