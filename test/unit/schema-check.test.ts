import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkSchema, readAcknowledgements } from "../../schema/check.ts";
import { compose } from "../../schema/compose.ts";

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@inaccessible"])';
const catalog = (fields: string) => `${LINK}
type Query { item(id: ID!): Item  items(first: Int): [Item!]! }
type Item @key(fields: "id") { id: ID! ${fields} }
enum Colour { RED GREEN }`;
const stockRoom = `${LINK}
type Item @key(fields: "id") { id: ID! stock: Int! }`;

const supergraph = (fields: string) =>
  compose([
    { name: "catalog", url: "http://127.0.0.1:1/graphql", sdl: catalog(fields) },
    { name: "stock", url: "http://127.0.0.1:2/graphql", sdl: stockRoom },
  ]);
const base = supergraph("name: String! colour: Colour price: Int").supergraphSdl;

describe("schema check", () => {
  test("changes are classed breaking, dangerous and safe, against the API schema only", async () => {
    const proposed = supergraph("name: String! colour: Colour label: String secret: String @inaccessible");
    const result = await checkSchema({ baseSupergraph: base, proposed });
    const byId = new Map(result.changes.map((c) => [c.id, c.level]));
    assert.equal(byId.get("FIELD_REMOVED:Item.price"), "breaking");
    assert.equal(byId.get("FIELD_ADDED:Item.label"), "safe");
    assert.ok(![...byId.keys()].some((id) => id.includes("secret")), "an @inaccessible field is not in the API");
    assert.deepEqual(
      result.blocking.map((c) => c.path),
      ["Item.price"],
    );

    const dangerous = await checkSchema({
      baseSupergraph: base,
      proposed: compose([
        {
          name: "catalog",
          url: "http://x/graphql",
          sdl: catalog("name: String! colour: Colour price: Int").replace("GREEN", "GREEN BLUE"),
        },
        { name: "stock", url: "http://y/graphql", sdl: stockRoom },
      ]),
    });
    assert.deepEqual(
      dangerous.changes.map((c) => [c.id, c.level]),
      [["ENUM_VALUE_ADDED:Colour.BLUE", "dangerous"]],
    );
    assert.equal(dangerous.blocking.length, 0);
  });

  test("an acknowledged breaking change passes; --allow-breaking passes every one", async () => {
    const proposed = supergraph("name: String! colour: Colour");
    const acknowledged = await checkSchema({
      baseSupergraph: base,
      proposed,
      acknowledged: [
        { change: "FIELD_REMOVED:Item.price", reason: "prices moved to the pricing service" },
        { change: "FIELD_REMOVED:Item.gone", reason: "typo" },
      ],
    });
    assert.equal(acknowledged.blocking.length, 0);
    assert.match(acknowledged.changes[0]!.acceptedBecause!, /pricing service/);
    assert.deepEqual(acknowledged.unusedAcknowledgements, ["FIELD_REMOVED:Item.gone"]);

    const allowed = await checkSchema({ baseSupergraph: base, proposed, allowBreaking: true });
    assert.equal(allowed.blocking.length, 0);
    assert.equal(allowed.changes[0]!.acceptedBecause, "--allow-breaking");
  });

  test("with trusted documents, a breaking change none uses passes and one a document uses fails", async () => {
    const proposed = supergraph("name: String!");
    const documents = [
      { name: "item.graphql", body: "query Item($id: ID!) { item(id: $id) { name stock } }" },
      { name: "colours.graphql", body: "{ items { colour } }" },
    ];
    const result = await checkSchema({ baseSupergraph: base, proposed, documents });
    const price = result.changes.find((c) => c.path === "Item.price")!;
    assert.equal(price.level, "breaking");
    assert.equal(price.acceptedBecause, "no trusted document uses it");
    assert.deepEqual(
      result.blocking.map((c) => c.path),
      ["Item.colour"],
    );
    assert.equal(result.brokenDocuments[0]?.name, "colours.graphql");

    const unused = await checkSchema({ baseSupergraph: base, proposed, documents: [documents[0]!] });
    assert.equal(unused.blocking.length, 0);
    assert.equal(unused.brokenDocuments.length, 0);
  });

  test("a required argument added breaks the operations that call the field", async () => {
    const proposed = compose([
      {
        name: "catalog",
        url: "http://x/graphql",
        sdl: catalog("name: String! colour: Colour price: Int").replace(
          "items(first: Int)",
          "items(first: Int, shop: ID!)",
        ),
      },
      { name: "stock", url: "http://y/graphql", sdl: stockRoom },
    ]);
    const result = await checkSchema({
      baseSupergraph: base,
      proposed,
      documents: [{ name: "list", body: "{ items(first: 2) { id } }" }],
    });
    assert.deepEqual(
      result.blocking.map((c) => c.id),
      ["FIELD_ARGUMENT_ADDED:Query.items.shop"],
    );
  });
});

describe("npm run schema:check", () => {
  const dir = mkdtempSync(join(tmpdir(), "schema-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "base.graphql"), base);
  writeFileSync(join(dir, "catalog.graphql"), catalog("name: String! colour: Colour"));
  writeFileSync(join(dir, "stock.graphql"), stockRoom);
  writeFileSync(
    join(dir, "supergraph.yaml"),
    [
      "subgraphs:",
      "  catalog:",
      "    routing_url: http://127.0.0.1:1/graphql",
      "    schema: { file: catalog.graphql }",
      "  stock:",
      "    routing_url: http://127.0.0.1:2/graphql",
      "    schema: { file: stock.graphql }",
    ].join("\n"),
  );
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "schema/check.ts",
        "--config",
        join(dir, "supergraph.yaml"),
        "--base",
        join(dir, "base.graphql"),
        "--acknowledged",
        join(dir, "ack.yaml"),
        ...args,
      ],
      { encoding: "utf8" },
    );

  test("fails on an unacknowledged breaking change, naming the field, and passes once it is acknowledged", () => {
    const failed = run();
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stdout, /BREAKING\s+FIELD_REMOVED:Item\.price/);
    assert.match(failed.stderr, /unacknowledged breaking change\(s\): Item\.price/);

    writeFileSync(
      join(dir, "ack.yaml"),
      "acknowledged:\n  - change: FIELD_REMOVED:Item.price\n    reason: moved to pricing\n",
    );
    assert.equal(readAcknowledgements(join(dir, "ack.yaml")).length, 1);
    const passed = run();
    assert.equal(passed.status, 0, passed.stderr);
    assert.match(passed.stdout, /accepted: acknowledged: moved to pricing/);
    rmSync(join(dir, "ack.yaml"));
  });

  test("--documents takes a glob of .graphql files; composition errors fail", () => {
    writeFileSync(join(dir, "op-name.graphql"), "{ items { name } }");
    const passed = run("--documents", join(dir, "op-*.graphql"));
    assert.equal(passed.status, 0, passed.stderr);
    assert.match(passed.stdout, /1 trusted document/);

    writeFileSync(join(dir, "stock.graphql"), `${LINK}\ntype Item @key(fields: "id") { id: ID! name: Int }`);
    const broken = run();
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /composition failed/);
  });
});
