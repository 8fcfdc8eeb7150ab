import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

/** An OTLP/HTTP JSON span as the exporter sends it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/** A real OTLP/HTTP traces receiver on port 0 (JSON encoding), keeping every span it is sent. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; paths: string[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      paths.push(`${req.method} ${req.url} ${req.headers["content-type"]}`);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, paths, server };
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let stack: Stack;

before(async () => {
  receiver = await startReceiver();
  stack = await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "gateway-under-test" });
});
after(async () => {
  await stack?.close();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value;

async function spansOf(traceId: string, until: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    if (until(spans)) return spans;
    if (Date.now() > deadline) throw new Error(`spans not received: ${spans.map((s) => s.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("request, parsing, validation, planning and each subgraph fetch arrive as spans of one trace, continued by the subgraphs", async () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const parentSpanId = "b7ad6b7169203331";
  const res = await fetch(`${stack.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${traceId}-${parentSpanId}-01` },
    body: JSON.stringify({ query: "query Shelf { products(first: 2) { nodes { id name } } }" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), traceId);

  const spans = await spansOf(traceId, (s) => s.some((x) => x.name === "gateway.fetch") && s.length >= 7);
  const byName = (name: string) => spans.filter((s) => s.name === name);
  const [server] = byName("POST /graphql").filter((s) => s.parentSpanId === parentSpanId);
  assert.ok(server, "the request span continues the caller's trace");
  for (const name of ["graphql.parse", "graphql.validate", "gateway.request", "gateway.plan", "gateway.execute"]) {
    assert.ok(byName(name).length > 0, `a ${name} span`);
  }
  assert.equal(byName("graphql.parse")[0]!.parentSpanId, server.spanId);
  assert.equal(byName("gateway.request")[0]!.parentSpanId, server.spanId);
  const fetches = byName("gateway.fetch");
  assert.equal(attribute(fetches[0]!, "service")?.stringValue, "products");

  // The products subgraph saw the same trace: its server span is a child of the gateway's fetch.
  const subgraphSpan = spans.find(
    (s) => attribute(s, "shop.service")?.stringValue === "products" && fetches.some((f) => f.spanId === s.parentSpanId),
  );
  assert.ok(subgraphSpan, "a products server span whose parent is a gateway.fetch span");
  assert.ok(receiver.paths.every((p) => p.startsWith("POST /v1/traces application/json")));
});

test("a request without a trace context starts a new trace; spans never carry credentials or documents", async () => {
  const token = await stack.login("alice@example.com", "alice-password");
  const res = await fetch(`${stack.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-request-id": "trace-me" },
    body: JSON.stringify({ query: "query Me { me { name } }" }),
  });
  assert.equal(res.status, 200);
  const deadline = Date.now() + 10_000;
  let server: OtlpSpan | undefined;
  while (!server) {
    server = receiver.spans.find((s) => attribute(s, "shop.request_id")?.stringValue === "trace-me");
    if (Date.now() > deadline) throw new Error("no span for the request");
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(server.parentSpanId ?? "", "");
  const exported = JSON.stringify(receiver.spans);
  assert.ok(!exported.includes(token));
  assert.ok(!exported.includes("alice-password"));
  assert.ok(!exported.includes("me { name }"));
});
