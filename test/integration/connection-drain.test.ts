import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Agent, request } from "undici";
import { connectionDrain } from "../../gateway/workers/index.ts";

/** A server whose /slow answers when released, and whose other paths answer at once. */
async function serve() {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let onSlow = () => {};
  const slowArrived = new Promise<void>((resolve) => {
    onSlow = resolve;
  });
  const server: Server = createServer((req, res) => {
    if (req.url === "/slow") {
      onSlow();
      void released.then(() => res.end("slow"));
    } else res.end("fast");
  });
  const drain = connectionDrain(server, { quietMs: 50, maxMs: 5000 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, drain, base, release, slowArrived };
}

test("a request in flight when the drain starts is answered with Connection: close, and the drain waits for it", async () => {
  const { server, drain, base, release, slowArrived } = await serve();
  const agent = new Agent({ connections: 1 });
  try {
    const slow = request(`${base}/slow`, { dispatcher: agent });
    await slowArrived;
    let drained = false;
    const draining = drain.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(drained, false, "the busy connection holds the drain");
    assert.equal(server.listening, false, "no new connection is accepted");
    release();
    const res = await slow;
    assert.equal(res.headers.connection, "close");
    assert.equal(await res.body.text(), "slow");
    await draining;
    assert.equal(drained, true);
  } finally {
    await agent.close();
    server.closeAllConnections();
  }
});

test("a kept-alive connection used again during the drain is served, told to close, and the drain ends", async () => {
  const { server, drain, base, release } = await serve();
  release();
  const agent = new Agent({ connections: 1 });
  try {
    const first = await request(`${base}/`, { dispatcher: agent });
    assert.notEqual(first.headers.connection, "close");
    await first.body.text();
    const started = Date.now();
    const draining = drain.drain();
    // The client's next request reaches the still-open connection.
    const next = await request(`${base}/`, { dispatcher: agent });
    assert.equal(next.headers.connection, "close");
    assert.equal(await next.body.text(), "fast");
    await draining;
    assert.ok(Date.now() - started < 5000, "ended before maxMs: the connection was closed by the client");
    const count = () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    // The server ends a connection once its Connection: close answer is written.
    for (const deadline = Date.now() + 2000; (await count()) > 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await count(), 0, "the connection was closed after its last answer");
  } finally {
    await agent.close();
    server.closeAllConnections();
  }
});
