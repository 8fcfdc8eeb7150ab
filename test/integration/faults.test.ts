/**
 * Faults one subgraph's instances can have, and the reload of the supergraph, against the real
 * gateway and services on loopback: an instance that accepts connections and never answers, every
 * instance down and one coming back, a reload while requests are provably in flight.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway } from "../../gateway/gateway.ts";
import { composeSupergraph, DEFAULT_CONFIG, readSupergraphConfig } from "../../schema/compose.ts";
import { createProductsService } from "../../subgraphs/products/server.ts";
import { freePort } from "../helpers/net.ts";
import { type Services, silent, startServices } from "../helpers/services.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const QUERY = "{ products(first: 2) { nodes { id name } } }";

interface Answer {
  status: number;
  elapsedMs: number;
  started: number;
  finished: number;
  body: { data?: unknown; errors?: { extensions?: { code?: string } }[] };
}

async function ask(base: string, query = QUERY): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as Answer["body"];
  const finished = Date.now();
  return { status: res.status, elapsedMs: finished - started, started, finished, body };
}

/** A TCP server that accepts every connection, reads what is sent, and never answers. */
async function silentServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk) => {
      requests += (chunk.toString("latin1").match(/^(POST|GET) /gm) ?? []).length;
    });
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests: () => requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway over `services` with the given instances of products and settings. */
async function gatewayFor(services: Services, dir: string, env: Record<string, string>) {
  const supergraphPath = join(mkdtempSync(join(dir, "gateway-")), "supergraph.graphql");
  writeFileSync(supergraphPath, services.supergraphSdl);
  const gateway = await createGateway(
    loadConfig({
      ...services.identity.gatewayEnv,
      SUPERGRAPH_PATH: supergraphPath,
      LOG_LEVEL: "silent",
      ...env,
    }),
    { logger: silent },
  );
  return { gateway, url: await gateway.listen(0) };
}

describe("instances that fail", () => {
  let services: Services;
  let dir: string;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    services = await startServices();
    dir = mkdtempSync(join(tmpdir(), "faults-"));
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an instance that accepts connections and never answers: requests still succeed within the deadline", {
    timeout: 60_000,
  }, async () => {
    const hung = await silentServer();
    closers.push(hung.close);
    const deadline = 3000;
    const { gateway, url } = await gatewayFor(services, dir, {
      SUBGRAPH_URLS: `products=${hung.url}|${services.subgraphUrls.products}`,
      REQUEST_TIMEOUT_MS: String(deadline),
      SUBGRAPH_TIMEOUT_MS: "500",
      SUBGRAPH_PROBE_INTERVAL_MS: "200",
      SUBGRAPH_PROBE_TIMEOUT_MS: "100",
    });
    closers.push(() => gateway.close());
    // Concurrent requests, then more one after another: the hung instance gets its share first.
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(url)));
    for (let i = 0; i < 8; i++) answers.push(await ask(url));
    for (const answer of answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.errors, undefined);
      assert.ok(answer.elapsedMs < deadline, `answered within the deadline (${answer.elapsedMs} ms)`);
    }
    assert.ok(hung.requests() > 0, "the hung instance was sent requests: they were retried on the other");
  });

  test("every instance down: SUBGRAPH_UNAVAILABLE within the deadline; one coming back serves without a restart", {
    timeout: 60_000,
  }, async () => {
    const hung = await silentServer();
    closers.push(hung.close);
    const deadPort = await freePort();
    const deadline = 1500;
    const margin = 1000;
    const { gateway, url } = await gatewayFor(services, dir, {
      // One instance that never answers, one where nothing listens: neither can serve.
      SUBGRAPH_URLS: `products=${hung.url}|http://127.0.0.1:${deadPort}/graphql`,
      REQUEST_TIMEOUT_MS: String(deadline),
      // Longer than the deadline: the deadline must cut the hung try short.
      SUBGRAPH_TIMEOUT_MS: "10000",
      SUBGRAPH_PROBE_INTERVAL_MS: "200",
      SUBGRAPH_PROBE_TIMEOUT_MS: "100",
      SUBGRAPH_EJECT_SECONDS: "60",
    });
    closers.push(() => gateway.close());

    for (let i = 0; i < 4; i++) {
      const answer = await ask(url);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.errors?.[0]?.extensions?.code, "SUBGRAPH_UNAVAILABLE");
      assert.ok(answer.elapsedMs < deadline + margin, `refused within the deadline (${answer.elapsedMs} ms)`);
    }
    // The gateway itself is fine, and other subgraphs still answer.
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const other = await ask(url, "{ __typename }");
    assert.equal(other.status, 200);

    // An instance comes back where nothing listened: with the circuits open for a minute, only
    // the probe can bring it back into rotation.
    const revived = await createProductsService({
      databasePath: ":memory:",
      identityKeys: services.identity.forService("products"),
      logger: silent,
    });
    await revived.listen(deadPort);
    closers.push(() => revived.close());
    const queriesBefore = revived.db.queryCount;
    const backAt = Date.now();
    let answer = await ask(url);
    while (answer.status !== 200 && Date.now() - backAt < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await ask(url);
    }
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.errors, undefined);
    assert.ok(revived.db.queryCount > queriesBefore, "the instance that came back served it");
    assert.ok(hung.requests() > 0, "the hung instance was tried: the deadline, not its timeout, cut it short");
  });
});

/**
 * An HTTP proxy in front of one subgraph that holds every answer until released: requests are
 * provably in flight while it holds them.
 */
async function holdingProxy() {
  let target = "";
  let held: (() => void)[] = [];
  let holding = true;
  let arrived = 0;
  const timeouts: number[] = [];
  const server = createHttpServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !["host", "connection", "content-length"].includes(name)),
    ) as Record<string, string>;
    timeouts.push(Number(req.headers["x-request-timeout-ms"]));
    const upstream = await fetch(target, { method: "POST", headers, body: Buffer.concat(chunks) });
    const body = await upstream.text();
    arrived++;
    if (holding) await new Promise<void>((resolve) => held.push(resolve));
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`,
    setTarget: (url: string) => {
      target = url;
    },
    arrived: () => arrived,
    /** The time each request was given (x-request-timeout-ms). */
    timeouts: () => timeouts,
    release() {
      holding = false;
      for (const go of held) go();
      held = [];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("a supergraph reload", () => {
  let stack: Stack;
  let proxy: Awaited<ReturnType<typeof holdingProxy>>;
  before(async () => {
    proxy = await holdingProxy();
    stack = await startStack({ SUBGRAPH_URLS: `products=${proxy.url}` });
    proxy.setTarget(stack.subgraphUrls.products);
  });
  after(async () => {
    proxy?.release();
    await stack?.close();
    await proxy?.close();
  });

  test("requests in flight across a reload all succeed", { timeout: 60_000 }, async () => {
    const version = stack.gateway.supergraph.state!.version;
    const count = 10;
    const pending = Array.from({ length: count }, (_, i) =>
      ask(stack.url, `{ products(first: ${i + 1}) { nodes { id } } }`),
    );
    // Every request has reached products and waits there for its answer.
    for (const limit = Date.now() + 10_000; proxy.arrived() < count; ) {
      if (Date.now() > limit) throw new Error(`only ${proxy.arrived()} requests reached products`);
      await new Promise((r) => setTimeout(r, 10));
    }
    // A real change: the new supergraph has no Product.stock.
    const sources = readSupergraphConfig(DEFAULT_CONFIG).map((s) => ({
      ...s,
      url: stack.subgraphUrls[s.name as keyof Stack["subgraphUrls"]],
      sdl: s.name === "products" ? s.sdl.replace(/^\s*stock: Int!\s*$/m, "") : s.sdl,
    }));
    const original = readFileSync(stack.supergraphPath, "utf8");
    writeFileSync(stack.supergraphPath, composeSupergraph(sources));
    for (const limit = Date.now() + 10_000; stack.gateway.supergraph.state!.version === version; ) {
      if (Date.now() > limit) throw new Error("the new supergraph was not loaded");
      await new Promise((r) => setTimeout(r, 10));
    }
    const reloadedAt = Date.now();
    proxy.release();
    const answers = await Promise.all(pending);
    for (const answer of answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.errors, undefined);
      assert.ok(answer.started < reloadedAt && answer.finished >= reloadedAt, "sent before the reload, answered after");
    }
    // Each carried what was left of its deadline (REQUEST_TIMEOUT_MS, 10 s by default).
    assert.ok(
      proxy.timeouts().every((ms) => ms > 0 && ms <= 10_000),
      proxy.timeouts().join(","),
    );
    const gone = await ask(stack.url, '{ product(id: "prod-001") { stock } }');
    assert.equal(gone.body.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED", "the new supergraph serves");
    writeFileSync(stack.supergraphPath, original);
  });
});
