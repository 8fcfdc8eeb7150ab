import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { GraphQLRequest } from "@apollo/server";
import type { GraphQLError, GraphQLSchema } from "graphql";
import { ConfigError, loadConfig } from "../../gateway/config.ts";
import { refusalOf } from "../../gateway/errors.ts";
import {
  apiSchemaOf,
  buildManifest,
  ManifestError,
  operationId,
  parseManifest,
  TrustedDocuments,
  trustedDocumentsPlugin,
} from "../../gateway/trusted-documents/index.ts";
import { main as buildDocuments } from "../../schema/documents.ts";
import { testKeys } from "../helpers/identity.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SUPERGRAPH = join(ROOT, "schema/supergraph.graphql");

let schema: GraphQLSchema;
before(() => {
  schema = apiSchemaOf(readFileSync(SUPERGRAPH, "utf8"));
});

const CATALOGUE = {
  name: "catalogue.graphql",
  text: `query Catalogue($first: Int) { products(first: $first) { nodes { ...Bits } } }`,
};
const FRAGMENTS = {
  name: "fragments.graphql",
  text: `fragment Bits on Product { id ...Price }\nfragment Price on Product { priceCents }\nfragment Unused on Product { name }`,
};

describe("manifest builder", () => {
  test("one entry per operation: its body carries the fragments it uses, from any file; its id is the body's SHA-256", () => {
    const { manifest, problems } = buildManifest([CATALOGUE, FRAGMENTS], schema);
    assert.deepEqual(problems, []);
    assert.equal(manifest.format, "apollo-persisted-query-manifest");
    assert.equal(manifest.version, 1);
    assert.equal(manifest.operations.length, 1);
    const [operation] = manifest.operations;
    assert.equal(operation!.name, "Catalogue");
    assert.equal(operation!.type, "query");
    assert.match(operation!.body, /^query Catalogue/);
    assert.match(operation!.body, /fragment Bits on Product/);
    assert.match(operation!.body, /fragment Price on Product/);
    assert.doesNotMatch(operation!.body, /Unused/);
    assert.equal(operation!.id, operationId(operation!.body));
    // The same documents always give the same manifest, whatever the order of the files.
    assert.deepEqual(buildManifest([FRAGMENTS, CATALOGUE], schema).manifest, manifest);
  });

  test("invalid, anonymous, duplicate and unparsable documents are refused, each naming its file", () => {
    const { problems } = buildManifest(
      [
        { name: "bad-field.graphql", text: "query Bad { nope }" },
        { name: "anonymous.graphql", text: "{ products { totalCount } }" },
        { name: "dup.graphql", text: "query Twice { me { id } }\nquery Twice { me { name } }" },
        { name: "broken.graphql", text: "query {" },
        { name: "missing.graphql", text: "query Lost { me { ...Nowhere } }" },
        { name: "schema.graphql", text: "type Foo { id: ID }" },
      ],
      schema,
    );
    const joined = problems.join("\n");
    assert.match(joined, /bad-field\.graphql: operation Bad: Cannot query field "nope"/);
    assert.match(joined, /anonymous\.graphql: every operation needs a name/);
    assert.match(joined, /dup\.graphql: operation Twice is defined twice/);
    assert.match(joined, /broken\.graphql: Syntax Error/);
    assert.match(joined, /missing\.graphql: operation Lost uses the unknown fragment Nowhere/);
    assert.match(joined, /schema\.graphql: only operations and fragments/);
  });

  test("validation is against the API schema: an @inaccessible field cannot be trusted", () => {
    const text = `mutation Sneak { markOrderPaid(orderId: "o", paymentId: "p") { id } }`;
    const { manifest, problems } = buildManifest([{ name: "sneak.graphql", text }], schema);
    assert.equal(manifest.operations.length, 0);
    assert.match(problems.join("\n"), /Cannot query field "markOrderPaid"/);
  });
});

describe("documents:build command", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "documents-"));
    mkdirSync(join(dir, "ops"));
    writeFileSync(join(dir, "ops", CATALOGUE.name), CATALOGUE.text);
    writeFileSync(join(dir, "ops", FRAGMENTS.name), FRAGMENTS.text);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("writes the manifest for the files its globs match", async () => {
    const out = join(dir, "manifest.json");
    const code = await buildDocuments([`${dir}/ops/**/*.graphql`, "--supergraph", SUPERGRAPH, "--out", out]);
    assert.equal(code, 0);
    const manifest = parseManifest(readFileSync(out, "utf8"));
    assert.deepEqual(
      manifest.operations.map((o) => o.name),
      ["Catalogue"],
    );
  });

  test("refuses an invalid document and writes nothing", async () => {
    writeFileSync(join(dir, "ops", "bad.graphql"), "query Bad { nope }");
    const out = join(dir, "refused.json");
    const code = await buildDocuments([`${dir}/ops/*.graphql`, "--supergraph", SUPERGRAPH, "--out", out]);
    assert.equal(code, 1);
    assert.throws(() => readFileSync(out));
    rmSync(join(dir, "ops", "bad.graphql"));
  });
});

describe("manifest and lookup", () => {
  const body = "query A { me { id } }";
  const manifestText = (operations: unknown[]) =>
    JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations });

  test("an id that is not the SHA-256 of its body, a duplicate id or another format is refused", () => {
    const good = { id: operationId(body), name: "A", type: "query", body };
    assert.equal(parseManifest(manifestText([good])).operations.length, 1);
    assert.throws(() => parseManifest(manifestText([{ ...good, id: "0".repeat(64) }])), ManifestError);
    assert.throws(() => parseManifest(manifestText([good, good])), /appears twice/);
    assert.throws(() => parseManifest(JSON.stringify({ format: "other", version: 1, operations: [] })), ManifestError);
    assert.throws(() => parseManifest("{"), /not JSON/);
  });

  test("lookup by id and by exact text; the gateway's own documents are trusted and named", () => {
    const manifest = parseManifest(manifestText([{ id: operationId(body), name: "A", type: "query", body }]));
    const own = "query Own { products { totalCount } }";
    const documents = new TrustedDocuments(manifest, [own]);
    assert.equal(documents.bodyOf(operationId(body)), body);
    assert.equal(documents.bodyOf(operationId(own)), own);
    assert.equal(documents.bodyOf("f".repeat(64)), undefined);
    assert.ok(documents.trusts(body));
    assert.ok(documents.trusts(own));
    assert.ok(!documents.trusts(`${body} `), "only the exact text is trusted");
    assert.deepEqual([...documents.operationNames].sort(), ["A", "Own"]);
  });
});

describe("plugin", () => {
  const body = "query A { me { id } }";
  const id = operationId(body);
  const documents = new TrustedDocuments(
    parseManifest(
      JSON.stringify({
        format: "apollo-persisted-query-manifest",
        version: 1,
        operations: [{ id, name: "A", type: "query", body }],
      }),
    ),
  );

  /** The request as Apollo Server goes on with it, or the refusal it meets at didResolveOperation. */
  async function run(only: boolean, request: GraphQLRequest): Promise<GraphQLRequest | GraphQLError> {
    const plugin = trustedDocumentsPlugin({ documents, only });
    // biome-ignore lint/suspicious/noExplicitAny: only `request` is read by these hooks
    const listener = await plugin.requestDidStart!({ request } as any);
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the refusal reads nothing of the context
      await listener?.didResolveOperation?.({} as any);
      return request;
    } catch (error) {
      assert.equal(request.query, "{ __typename }", "the untrusted text is never parsed");
      assert.equal(request.extensions?.persistedQuery, undefined, "nothing to look up or register");
      return error as GraphQLError;
    }
  }
  const byId = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash }, other: 1 } });
  const codeOf = (outcome: GraphQLRequest | GraphQLError) => refusalOf(outcome)?.code;

  test("a trusted id becomes its document, without the persisted query extension (nothing to register)", async () => {
    for (const only of [false, true]) {
      const request = (await run(only, byId(id))) as GraphQLRequest;
      assert.equal(request.query, body);
      assert.deepEqual(request.extensions, { other: 1 });
    }
  });

  test("outside trusted-only mode anything else is left to Apollo Server (APQ, ordinary documents)", async () => {
    const unknown = byId("a".repeat(64));
    assert.equal(((await run(false, unknown)) as GraphQLRequest).query, undefined);
    assert.ok(((await run(false, unknown)) as GraphQLRequest).extensions?.persistedQuery);
    assert.equal(((await run(false, { query: "{ me { id } }" })) as GraphQLRequest).query, "{ me { id } }");
  });

  test("trusted-only: an unknown id, unknown text or an APQ registration is refused with OPERATION_NOT_TRUSTED (400)", async () => {
    const other = "query B { me { name } }";
    for (const request of [
      byId("a".repeat(64)),
      { query: other },
      { query: other, extensions: { persistedQuery: { version: 1, sha256Hash: operationId(other) } } },
      { query: other, extensions: { persistedQuery: { version: 1, sha256Hash: id } } },
    ]) {
      const outcome = await run(true, request);
      assert.equal(codeOf(outcome), "OPERATION_NOT_TRUSTED", JSON.stringify(request));
      assert.equal(refusalOf(outcome)?.status, 400);
    }
    assert.equal(((await run(true, { query: body })) as GraphQLRequest).query, body);
  });
});

describe("config", () => {
  test("TRUSTED_DOCUMENTS_ONLY needs TRUSTED_DOCUMENTS; production runs only the manifest unless told otherwise", () => {
    assert.throws(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: "true" }), ConfigError);
    assert.throws(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: "maybe" }), /TRUSTED_DOCUMENTS_ONLY/);
    assert.deepEqual(loadConfig({}).trustedDocuments, { path: null, only: false });
    assert.equal(loadConfig({ TRUSTED_DOCUMENTS: "m.json" }).trustedDocuments.only, false);
    const production = { NODE_ENV: "production", ...testKeys.gatewayEnv, TRUSTED_DOCUMENTS: "m.json" };
    assert.equal(loadConfig(production).trustedDocuments.only, true);
    assert.equal(loadConfig({ ...production, TRUSTED_DOCUMENTS_ONLY: "false" }).trustedDocuments.only, false);
    assert.match(loadConfig(production).trustedDocuments.path!, /^\/.*m\.json$/);
  });
});
