import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../gateway/config.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { apiSchemaOf, buildManifest, operationId } from "../../gateway/trusted-documents/index.ts";
import { type Stack, silent, startStack } from "../helpers/stack.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const DOCUMENTS = [
  {
    name: "catalogue.graphql",
    text: "query Catalogue($first: Int) { products(first: $first) { nodes { ...Item } totalCount } }",
  },
  { name: "item.graphql", text: "fragment Item on Product { id name priceCents }" },
];

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are asserted field by field
  body: any;
}

async function post(base: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const persisted = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });

let dir: string;
let manifestPath: string;
let catalogue: { id: string; body: string };
/** Trusted-only mode. */
let stack: Stack;
/** The same subgraphs and manifest, APQ on (no trusted-only mode). */
let open: Gateway;
let openUrl: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "trusted-documents-"));
  const schema = apiSchemaOf(readFileSync(join(ROOT, "schema/supergraph.graphql"), "utf8"));
  const { manifest, problems } = buildManifest(DOCUMENTS, schema);
  assert.deepEqual(problems, []);
  catalogue = manifest.operations[0]!;
  manifestPath = join(dir, "trusted-documents.json");
  writeFileSync(manifestPath, JSON.stringify(manifest));
  stack = await startStack({ TRUSTED_DOCUMENTS: manifestPath, TRUSTED_DOCUMENTS_ONLY: "true" });
  open = await createGateway(
    loadConfig({
      ...stack.identity.gatewayEnv,
      SUPERGRAPH_PATH: stack.supergraphPath,
      PORT: "0",
      LOG_LEVEL: "silent",
      TRUSTED_DOCUMENTS: manifestPath,
    }),
    { logger: silent },
  );
  openUrl = await open.listen(0);
});

after(async () => {
  await open?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("trusted-only mode", () => {
  test("a trusted document runs by id alone (POST and GET), its body filled in from the manifest", async () => {
    const res = await post(stack.url, { extensions: persisted(catalogue.id), variables: { first: 2 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.products.nodes.length, 2);
    assert.ok(res.body.data.products.nodes[0].priceCents > 0);

    const params = new URLSearchParams({
      extensions: JSON.stringify(persisted(catalogue.id)),
      variables: JSON.stringify({ first: 1 }),
    });
    const get = await fetch(`${stack.url}/graphql?${params}`, { headers: { "apollo-require-preflight": "true" } });
    const body = (await get.json()) as Answer["body"];
    assert.equal(get.status, 200, JSON.stringify(body));
    assert.equal(body.data.products.nodes.length, 1);
  });

  test("an unknown id is refused with OPERATION_NOT_TRUSTED and 400", async () => {
    const res = await post(stack.url, { extensions: persisted("0".repeat(64)) });
    assert.equal(res.status, 400);
    assert.equal(res.body.errors[0].extensions.code, "OPERATION_NOT_TRUSTED");
    assert.equal(res.body.data, undefined);
  });

  test("the exact text of a trusted document runs; any other text is refused", async () => {
    const known = await post(stack.url, { query: catalogue.body, variables: { first: 1 } });
    assert.equal(known.status, 200, JSON.stringify(known.body));
    assert.equal(known.body.data.products.nodes.length, 1);

    const unknown = await post(stack.url, { query: "{ products(first: 1) { nodes { id } } }" });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.errors[0].extensions.code, "OPERATION_NOT_TRUSTED");
    assert.equal(unknown.body.data, undefined);
  });

  test("APQ registration is refused, and the id stays unknown", async () => {
    const query = "query Sneak { products(first: 1) { totalCount } }";
    const register = await post(stack.url, { query, extensions: persisted(operationId(query)) });
    assert.equal(register.status, 400);
    assert.equal(register.body.errors[0].extensions.code, "OPERATION_NOT_TRUSTED");
    const byId = await post(stack.url, { extensions: persisted(operationId(query)) });
    assert.equal(byId.status, 400);
    assert.equal(byId.body.errors[0].extensions.code, "OPERATION_NOT_TRUSTED");
  });

  test("the REST shim's own operations keep working", async () => {
    const list = await fetch(`${stack.url}/api/products?first=2`);
    const listBody = (await list.json()) as Answer["body"];
    assert.equal(list.status, 200, JSON.stringify(listBody));
    const id = JSON.stringify(listBody).match(/"id":"(prod-[^"]+)"/)?.[1];
    assert.ok(id, JSON.stringify(listBody));
    const one = await fetch(`${stack.url}/api/products/${id}`);
    assert.equal(one.status, 200);

    const login = await fetch(`${stack.url}/api/users/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "alice@example.com", password: "alice-password" }),
    });
    const loginBody = (await login.json()) as Answer["body"];
    assert.equal(login.status, 200, JSON.stringify(loginBody));
    assert.equal(typeof loginBody.token, "string");
  });

  test("a trusted document's name has its metric label from its first request", async () => {
    await post(stack.url, { extensions: persisted(catalogue.id) });
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    assert.match(
      metrics,
      /gateway_operations_total\{operation="Catalogue",type="query",route="\/graphql",status="200"\}/,
    );
    assert.match(metrics, /gateway_refusals_total\{code="OPERATION_NOT_TRUSTED"\} [1-9]/);
  });
});

describe("outside trusted-only mode", () => {
  test("APQ works: an unknown hash is not found, registered with its query, then runs by hash alone", async () => {
    const query = `query Apq { products(first: 1) { totalCount } } # ${process.pid}-${Date.now()}`;
    const hash = operationId(query);
    const miss = await post(openUrl, { extensions: persisted(hash) });
    assert.equal(miss.body.errors[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");

    const register = await post(openUrl, { query, extensions: persisted(hash) });
    assert.equal(register.status, 200, JSON.stringify(register.body));
    assert.equal(typeof register.body.data.products.totalCount, "number");

    const hit = await post(openUrl, { extensions: persisted(hash) });
    assert.equal(hit.status, 200, JSON.stringify(hit.body));
    assert.equal(hit.body.data.products.totalCount, register.body.data.products.totalCount);
  });

  test("manifest ids run too, and any other document runs as usual", async () => {
    const byId = await post(openUrl, { extensions: persisted(catalogue.id), variables: { first: 1 } });
    assert.equal(byId.status, 200, JSON.stringify(byId.body));
    assert.equal(byId.body.data.products.nodes.length, 1);
    const free = await post(openUrl, { query: "{ products(first: 1) { totalCount } }" });
    assert.equal(free.status, 200, JSON.stringify(free.body));
  });
});
