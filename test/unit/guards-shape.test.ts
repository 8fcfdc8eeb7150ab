import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  buildSchema,
  type FragmentDefinitionNode,
  getIntrospectionQuery,
  Kind,
  type OperationDefinitionNode,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import { countTokens } from "../../gateway/guards/format.ts";
import { parseOverrides } from "../../gateway/guards/policy.ts";
import { createShapeRule, measureOperation, type ShapeLimits } from "../../gateway/guards/shape.ts";
import { type WalkPolicies, walkOperation } from "../../gateway/guards/walker.ts";

const schema = buildSchema(`
  type Query {
    me: User
    product(id: ID!): Product
    products(first: Int, after: String): ProductConnection!
    many(ids: [ID!]!): [Product!]!
    search(limit: Int = 5): [Product!]!
  }
  type Mutation { login(email: String!): String! }
  type User { id: ID! orders: [Order!]! }
  type Order { id: ID! user: User! items: [Item!]! }
  type Item { product: Product! quantity: Int! }
  type Product { id: ID! name: String! }
  type ProductConnection { nodes: [Product!]! totalCount: Int! }
`);

function split(source: string) {
  const document = parse(source);
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    if (d.kind === Kind.OPERATION_DEFINITION) operation ??= d;
  }
  return { document, operation: operation!, fragments };
}

const policies = (overrides = ""): WalkPolicies => ({
  rateLimits: new Map(
    [...parseOverrides(overrides)].filter((e): e is [string, NonNullable<(typeof e)[1]>] => e[1] !== null),
  ),
  listSizes: new Map(),
  weights: new Map(),
  defaultListSize: 10,
});

const walk = (source: string, variables: Record<string, unknown> = {}, overrides = "") => {
  const { operation, fragments } = split(source);
  return walkOperation(schema, operation, fragments, variables, policies(overrides));
};

describe("shape measurement", () => {
  test("depth through fragments and inline fragments; introspection apart", () => {
    const { operation, fragments } = split(`
      { me { ...U } }
      fragment U on User { orders { ... on Order { items { product { name } } } } }`);
    assert.equal(measureOperation(operation, fragments).depth, 5);
    const introspection = split(getIntrospectionQuery());
    const shape = measureOperation(introspection.operation, introspection.fragments);
    assert.equal(shape.depth, 0);
    assert.ok(shape.introspectionDepth > 10 && shape.introspectionDepth <= 15, String(shape.introspectionDepth));
  });

  test("aliases count every spread of a fragment; repeats merge across fragments", () => {
    const { operation, fragments } = split(`
      { me { ...F ...F id id } }
      fragment F on User { a: id b: id id }`);
    const shape = measureOperation(operation, fragments);
    assert.equal(shape.aliases, 4);
    assert.equal(shape.repeatedFields, 4, "id twice directly and once per spread");
    assert.equal(shape.rootFields, 1);
  });

  test("nested spreads do not make measuring exponential; cycles are cut", () => {
    const levels = 40;
    const defs = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on User { id }` : `fragment F${i} on User { ...F${i + 1} ...F${i + 1} }`,
    );
    const { operation, fragments } = split(`{ me { ...F0 } } ${defs.join(" ")}`);
    const shape = measureOperation(operation, fragments);
    assert.equal(shape.repeatedFields, 2 ** (levels - 1));
    const cyclic = split("{ me { ...A } } fragment A on User { orders { user { ...A } } }");
    assert.ok(measureOperation(cyclic.operation, cyclic.fragments).depth >= 1);
  });

  test("the validation rule refuses with the contract code and figures, first", () => {
    const limits: ShapeLimits = {
      maxDepth: 3,
      maxIntrospectionDepth: 15,
      maxAliases: 2,
      maxRootFields: 2,
      maxDirectives: 1,
      maxRepeatedFields: 2,
    };
    const rule = createShapeRule(limits);
    const codes = (source: string) =>
      validate(schema, parse(source), [...specifiedRules, rule]).map((e) => e.extensions.code ?? "GRAPHQL");
    assert.deepEqual(codes("{ me { orders { id } } }"), []);
    assert.equal(codes("{ me { orders { items { quantity } } } }")[0], "DEPTH_LIMIT_EXCEEDED");
    assert.equal(codes("{ a: me { id } b: me { id } c: me { id } }")[0], "ALIAS_LIMIT_EXCEEDED");
    assert.equal(codes("{ me { id } product(id: 1) { id } products { totalCount } }")[0], "ROOT_FIELD_LIMIT_EXCEEDED");
    assert.equal(codes("{ me @include(if: true) @skip(if: false) { id } }")[0], "DIRECTIVE_LIMIT_EXCEEDED");
    const unknown = codes("{ me @nope @nope { id } }");
    assert.equal(unknown[0], "DIRECTIVE_LIMIT_EXCEEDED", "before the unknown-directive errors");
    assert.equal(codes("{ me { id id id } }")[0], "REPEATED_FIELD_LIMIT_EXCEEDED");
    const off = createShapeRule({ ...limits, maxDepth: 0 });
    assert.deepEqual(validate(schema, parse("{ me { orders { items { quantity } } } }"), [off]), []);
  });

  test("tokens are counted as the parser counts them", () => {
    assert.equal(countTokens("{ a b }", 100), 4);
    assert.equal(countTokens("# comment\n{ a }", 100), 3);
    assert.equal(countTokens(`{ ${"a ".repeat(5000)}}`, 100), 101, "stops past the limit");
  });
});

describe("walking an operation", () => {
  test("limited calls: aliases, fragments, skip/include and list arguments", () => {
    const source = `
      query($no: Boolean!, $yes: Boolean!) {
        a: product(id: 1) { id }
        b: product(id: 2) { id }
        ...F
        ... on Query { d: product(id: 4) { id } }
        e: product(id: 5) @skip(if: $yes) { id }
        f: product(id: 6) @include(if: $no) { id }
        many(ids: [1, 2, 3]) { id }
      }
      fragment F on Query { c: product(id: 3) { id } }`;
    const { calls } = walk(source, { no: false, yes: true }, "Query.product=10/1m,Query.many=10/1m");
    assert.equal(calls.get("Query.product")?.count, 4);
    assert.equal(calls.get("Query.many")?.count, 1);
    const byList = walk(
      source,
      { no: false, yes: true },
      '{"Query.many": {"max": 10, "window": "1m", "arrayLengthField": "ids"}}',
    );
    assert.equal(byList.calls.get("Query.many")?.count, 3);
    const keys = walk('mutation { login(email: "a") }', {}, "Mutation.login=5/1m/ip").calls;
    assert.deepEqual([...keys.keys()], ["Mutation.login"], "keys carry the parent type");
    assert.equal(walk("{ me { id } }", {}, "Mutation.me=5/1m").calls.size, 0, "another type's field is another key");
  });

  test("deeply nested fragment spreads walk in linear time", () => {
    const levels = 40;
    const defs = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Query { product(id: 1) { id } }`
        : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    const { calls } = walk(`{ ...F0 } ${defs.join(" ")}`, {}, "Query.product=10/1m");
    assert.equal(calls.get("Query.product")?.count, 2 ** (levels - 1));
  });
});
