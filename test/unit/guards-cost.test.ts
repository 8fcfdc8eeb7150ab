import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildSchema, type FragmentDefinitionNode, Kind, type OperationDefinitionNode, parse } from "graphql";
import {
  type CostEstimate,
  type CostPolicies,
  countObjects,
  createCostEstimator,
  estimateCost,
} from "../../gateway/guards/cost.ts";
import { type ListSizeHint, readSchemaPolicies } from "../../gateway/guards/directives.ts";

const schema = buildSchema(`
  type Query {
    me: User
    product(id: ID!): Product
    products(first: Int, after: String): ProductConnection!
    many(ids: [ID!]!): [Product!]!
    search(limit: Int = 5): [Product!]!
    page(first: Int, last: Int): Page!
    feed(take: Int): [Post!]!
    media: [Media!]!
    node(id: ID!): Node
  }
  type Mutation { placeOrder(input: OrderInput!): Order! }
  input OrderInput { items: [ItemInput!]! note: String }
  input ItemInput { productId: ID! quantity: Int! }
  interface Node { id: ID! }
  type User implements Node { id: ID! orders: [Order!]! }
  type Order implements Node { id: ID! user: User! items: [Item!]! }
  type Item { product: Product! quantity: Int! }
  type Product implements Node { id: ID! name: String! reviews: [Review!]! }
  type Review { id: ID! body: String! }
  type ProductConnection { nodes: [Product!]! totalCount: Int! }
  type Page { items: [Product!]! count: Int! }
  type Post { id: ID! }
  type Book { title: String! chapters: [Chapter!]! }
  type Chapter { title: String! }
  type Film { title: String! cast: [Person!]! }
  type Person { name: String! }
  union Media = Book | Film
`);

function split(source: string) {
  const document = parse(source);
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    if (d.kind === Kind.OPERATION_DEFINITION) operation ??= d;
  }
  return { operation: operation!, fragments };
}

const hint = (given: Partial<ListSizeHint>): ListSizeHint => ({
  assumedSize: null,
  slicingArguments: [],
  sizedFields: [],
  requireOneSlicingArgument: true,
  ...given,
});

const base: CostPolicies = { listSizes: new Map(), weights: new Map(), defaultListSize: 10 };

function estimate(source: string, variables: Record<string, unknown> = {}, given: Partial<CostPolicies> = {}) {
  const { operation, fragments } = split(source);
  return estimateCost(schema, operation, fragments, (name) => variables[name], { ...base, ...given });
}

function costOf(source: string, variables: Record<string, unknown> = {}, given: Partial<CostPolicies> = {}) {
  const result = estimate(source, variables, given);
  if (!("cost" in result)) throw new Error(result.invalid);
  return result.cost;
}

describe("cost estimate (cost directive spec)", () => {
  test("objects weigh 1, scalars 0; lists multiply by first/limit or the default size", () => {
    assert.equal(costOf("{ product(id: 1) { id name } }"), 1);
    assert.equal(costOf("{ products(first: 20) { nodes { id } totalCount } }"), 21);
    assert.equal(costOf("query($n: Int) { products(first: $n) { nodes { id } } }", { n: 50 }), 51);
    assert.equal(costOf("{ products { nodes { id } } }"), 11, "no first: the default list size");
    assert.equal(costOf("{ search { id } }"), 5, "the argument's default");
    assert.equal(costOf("{ me { orders { items { product { id } } } } }"), 1 + 10 * (1 + 10 * (1 + 1)));
    assert.equal(costOf("{ products(first: 3) { nodes { id } } }", {}, { defaultListSize: 0 }), 4);
    assert.equal(costOf("{ many(ids: [1]) { id } }", {}, { defaultListSize: 2 }), 2, "the default is configurable");
  });

  test("@listSize: slicing arguments, assumed size, sized fields", () => {
    const listSizes = new Map([
      ["Query.feed", hint({ slicingArguments: ["take"], assumedSize: 7, requireOneSlicingArgument: false })],
      ["Query.many", hint({ assumedSize: 3 })],
      ["Query.page", hint({ slicingArguments: ["first", "last"], sizedFields: ["items"] })],
    ]);
    assert.equal(costOf("{ feed(take: 4) { id } }", {}, { listSizes }), 4);
    assert.equal(costOf("{ feed { id } }", {}, { listSizes }), 7, "no slicing argument: assumedSize");
    assert.equal(costOf("{ many(ids: [1, 2]) { id } }", {}, { listSizes }), 3);
    assert.equal(costOf("{ page(first: 6) { items { id } count } }", {}, { listSizes }), 1 + 6);
  });

  test("requireOneSlicingArgument: none or several is invalid, exactly one sizes the list", () => {
    const listSizes = new Map([["Query.page", hint({ slicingArguments: ["first", "last"], sizedFields: ["items"] })]]);
    assert.equal(costOf("{ page(last: 2) { items { id } } }", {}, { listSizes }), 3);
    const none = estimate("{ page { items { id } } }", {}, { listSizes });
    assert.match("invalid" in none ? none.invalid : "", /Query\.page needs exactly one of "first", "last"/);
    const both = estimate("{ page(first: 1, last: 2) { items { id } } }", {}, { listSizes });
    assert.ok("invalid" in both);
    const nullVariable = estimate("query($n: Int) { page(first: $n) { items { id } } }", { n: null }, { listSizes });
    assert.ok("invalid" in nullVariable, "a null slicing argument is not given");
    const relaxed = new Map([
      ["Query.page", hint({ ...listSizes.get("Query.page"), requireOneSlicingArgument: false })],
    ]);
    assert.equal(costOf("{ page { items { id } } }", {}, { listSizes: relaxed }), 1 + 10);
    assert.equal(
      costOf("{ page(first: 1, last: 2) { items { id } } }", {}, { listSizes: relaxed }),
      1 + 2,
      "the largest",
    );
  });

  test("@cost on fields, types, arguments and input fields", () => {
    const weights = new Map([
      ["Query.me", 7],
      ["Review", 4],
      ["Mutation.placeOrder(input:)", 2],
      ["ItemInput.quantity", 3],
    ]);
    assert.equal(costOf("{ me { id } }", {}, { weights }), 7);
    assert.equal(costOf("{ product(id: 1) { reviews { id } } }", {}, { weights }), 1 + 10 * 4);
    // placeOrder 1 + input (declared 2) + items list: two ItemInput objects, 1 each, quantity 3 each.
    const order = "mutation($input: OrderInput!) { placeOrder(input: $input) { id } }";
    const input = {
      items: [
        { productId: "a", quantity: 1 },
        { productId: "b", quantity: 5 },
      ],
    };
    assert.equal(costOf(order, { input }, { weights }), 1 + 2 + 2 * (1 + 3));
    assert.equal(costOf(order, { input }), 1 + 1 + 2, "an input object weighs 1 by default");
  });

  test("fragments on different concrete types take the costliest type, not the sum", () => {
    const query = `{ media {
      ... on Book { title chapters { title } }
      ... on Film { title cast { name } other: cast { name } }
    } }`;
    // A Film costs 1 + 10 + 10, a Book 1 + 10: ten media of the costlier kind.
    assert.equal(costOf(query), 10 * (1 + 20));
    const spreads = `{ media { ...B ...F } }
      fragment B on Book { chapters { title } }
      fragment F on Film { cast { name } }`;
    assert.equal(costOf(spreads), 10 * (1 + 10));
    // Interface fields apply to every member; fragments on the same type still add up.
    const node = `{ node(id: 1) { id ... on Node { id } ... on Product { reviews { id } } ... on Product { r2: reviews { id } } ... on User { orders { id } } } }`;
    assert.equal(costOf(node), 1 + 10 + 10);
    assert.equal(costOf("{ product(id: 1) { ... on Product { reviews { id } } ... on Node { id } } }"), 1 + 10);
  });

  test("@skip/@include drop a selection only when written as a literal", () => {
    assert.equal(costOf("{ me @skip(if: true) { id } product(id: 1) { id } }"), 1);
    assert.equal(costOf("{ me @include(if: false) { id } }"), 0);
    assert.equal(costOf("query($x: Boolean!) { me @include(if: $x) { id } }", { x: false }), 1, "a variable counts");
    assert.equal(costOf("query($x: Boolean!) { me @skip(if: $x) { id } }", { x: true }), 1);
  });

  test("spread cycles are cut and deep spreads stay cheap", () => {
    const levels = 40;
    const defs = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Query { product(id: 1) { id } }`
        : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    assert.equal(costOf(`{ ...F0 } ${defs.join(" ")}`), 2 ** (levels - 1));
    assert.equal(costOf("{ ...A } fragment A on Query { me { id } ...A }"), 1);
  });
});

describe("cost estimator cache", () => {
  /** Weights that count their lookups: a cached estimate walks nothing. */
  class CountingMap<K, V> extends Map<K, V> {
    lookups = 0;
    override get(key: K) {
      this.lookups += 1;
      return super.get(key);
    }
  }

  test("one walk per document and values of the variables the estimate reads", () => {
    const weights = new CountingMap<string, number>();
    const policies: CostPolicies = { ...base, weights };
    const estimator = createCostEstimator();
    const query = "query($id: ID!, $n: Int) { product(id: $id) { id } products(first: $n) { nodes { id } } }";
    const { operation, fragments } = split(query);
    const run = (variables: Record<string, unknown>): CostEstimate =>
      estimator.estimate({ schema, policies, query, operation, fragments, variables });

    assert.deepEqual(run({ id: "1", n: 5 }), { cost: 1 + 1 + 5 });
    const walked = weights.lookups;
    assert.ok(walked > 0);
    assert.deepEqual(run({ id: "2", n: 5 }), { cost: 7 }, "another id: same estimate");
    assert.equal(weights.lookups, walked, "served from the cache: the id does not change the cost");
    assert.deepEqual(run({ id: "2", n: 50 }), { cost: 52 }, "another size is another estimate");
    assert.ok(weights.lookups > walked);
    assert.equal(estimator.size, 1);

    const changed = { ...policies, defaultListSize: 3 };
    const after = estimator.estimate({
      schema,
      policies: changed,
      query,
      operation,
      fragments,
      variables: { id: "1" },
    });
    assert.deepEqual(after, { cost: 1 + 1 + 3 }, "new policies: nothing stale");
  });

  test("estimates that read a big input are not kept: the cache stays bounded by documents", () => {
    const weights = new CountingMap<string, number>();
    const policies: CostPolicies = { ...base, weights };
    const estimator = createCostEstimator();
    const query = "mutation($input: OrderInput!) { placeOrder(input: $input) { id } }";
    const { operation, fragments } = split(query);
    const run = (items: number) =>
      estimator.estimate({
        schema,
        policies,
        query,
        operation,
        fragments,
        variables: { input: { items: Array.from({ length: items }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) } },
      });
    assert.deepEqual(run(2), { cost: 1 + 1 + 2 });
    let lookups = weights.lookups;
    assert.deepEqual(run(2), { cost: 4 });
    assert.equal(weights.lookups, lookups, "a small input: kept");
    assert.deepEqual(run(200), { cost: 1 + 1 + 200 });
    lookups = weights.lookups;
    assert.deepEqual(run(200), { cost: 202 });
    assert.ok(weights.lookups > lookups, "a big input: estimated again");
  });

  test("a document without a query string is estimated every time, and keeps nothing", () => {
    const estimator = createCostEstimator();
    const { operation, fragments } = split("{ me { id } }");
    const request = { schema, policies: base, query: null, operation, fragments, variables: {} };
    assert.deepEqual(estimator.estimate(request), { cost: 1 });
    assert.equal(estimator.size, 0);
  });
});

describe("actual cost", () => {
  test("objects in data, lists flattened, the root not counted", () => {
    assert.equal(countObjects(null), 0);
    assert.equal(countObjects({ me: null }), 0);
    assert.equal(countObjects({ me: { id: "1", orders: [{ id: "a" }, { id: "b", items: [] }] } }), 3);
    assert.equal(countObjects({ products: { nodes: [{ id: 1 }, { id: 2 }], totalCount: 2 } }), 3);
  });
});

describe("reading @cost and @listSize from a supergraph", () => {
  test("fields, types, arguments and input fields; requireOneSlicingArgument defaults to true", () => {
    const sdl = `
      schema
        @link(url: "https://specs.apollo.dev/link/v1.0")
        @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])
      { query: Query }
      directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
      type Query {
        a(first: Int, after: String): [T] @listSize(slicingArguments: ["first"])
        b(filter: F @cost(weight: 3)): [T] @listSize(assumedSize: 4, requireOneSlicingArgument: false) @cost(weight: 2)
      }
      type T @cost(weight: 5) { id: ID }
      scalar Big @cost(weight: 9)
      input F { deep: Int @cost(weight: 6) }`;
    const read = readSchemaPolicies(sdl);
    assert.deepEqual(read.problems, []);
    assert.equal(read.listSizes.get("Query.a")?.requireOneSlicingArgument, true);
    assert.equal(read.listSizes.get("Query.b")?.requireOneSlicingArgument, false);
    assert.equal(read.listSizes.get("Query.b")?.assumedSize, 4);
    assert.deepEqual(Object.fromEntries(read.weights), {
      "Query.b": 2,
      "Query.b(filter:)": 3,
      T: 5,
      Big: 9,
      "F.deep": 6,
    });
  });

  test("a renamed cost feature renames its own directive", () => {
    const sdl = `
      schema @link(url: "https://specs.apollo.dev/cost/v0.1", as: "price", import: ["@listSize"]) { query: Query }
      type Query { a: Int @price(weight: 3) b: Int @cost(weight: 4) }`;
    assert.deepEqual(Object.fromEntries(readSchemaPolicies(sdl).weights), { "Query.a": 3 });
  });
});
