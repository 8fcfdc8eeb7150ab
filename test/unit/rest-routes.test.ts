import "../../gateway/no-telemetry.ts";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ApolloGateway } from "@apollo/gateway";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { GraphQLSchema } from "graphql";
import { withoutSecurityMarks } from "../../gateway/authorization/index.ts";
import { checkAgainstSchema, compileRoutes } from "../../gateway/rest/compile.ts";
import { buildOpenApi } from "../../gateway/rest/openapi.ts";
import { type RestRoute, ROUTES } from "../../gateway/rest/routes.ts";
import { buildVariables, parseParameter } from "../../gateway/rest/variables.ts";

/** The API schema the gateway serves for the checked-in supergraph. */
async function apiSchema(): Promise<{ schema: GraphQLSchema; stop: () => Promise<void> }> {
  const gateway = new ApolloGateway({
    supergraphSdl: withoutSecurityMarks(readFileSync("schema/supergraph.graphql", "utf8")),
  });
  await gateway.load();
  return { schema: gateway.schema!, stop: () => gateway.stop() };
}

const route = (overrides: Partial<RestRoute>): RestRoute => ({
  id: "getProduct",
  method: "GET",
  path: "/api/products/:id",
  summary: "A product",
  operation: "query GetProduct($id: ID!) { product(id: $id) { id } }",
  result: "product",
  parameters: [{ name: "id", in: "path", description: "id" }],
  auth: "optional",
  ...overrides,
});

describe("REST route table", () => {
  let schema: GraphQLSchema;
  let stop: () => Promise<void>;
  const compiled = compileRoutes(ROUTES);
  const byId = (id: string) => compiled.find((c) => c.route.id === id)!;

  before(async () => {
    ({ schema, stop } = await apiSchema());
  });
  after(() => stop());

  test("every operation validates against the served API schema", () => {
    assert.deepEqual(checkAgainstSchema(schema, compiled), []);
  });

  test("covers every contract path", () => {
    const endpoints = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(endpoints, [
      "GET /api/orders",
      "GET /api/orders/:id",
      "GET /api/payments/:id",
      "GET /api/products",
      "GET /api/products/:id",
      "GET /api/users/:id",
      "GET /api/users/me",
      "POST /api/orders",
      "POST /api/payments/process",
      "POST /api/users",
      "POST /api/users/login",
    ]);
  });

  test("refuses tables that cannot work, at start-up", () => {
    assert.throws(() => compileRoutes([route({}), route({})]), /duplicate/);
    assert.throws(() => compileRoutes([route({ parameters: [] })]), /path parameter id is not declared/);
    assert.throws(
      () => compileRoutes([route({ operation: "mutation GetProduct($id: ID!) { product(id: $id) { id } }" })]),
      /runs a query/,
    );
    assert.throws(() => compileRoutes([route({ operation: "{ product(id: 1) { id } }" })]), /named operation/);
    assert.throws(
      () => compileRoutes([route({ parameters: [{ name: "id", in: "path", variable: "other", description: "" }] })]),
      /fills no operation variable/,
    );
    assert.throws(() => compileRoutes([route({ path: "/products/:id" })]), /under \/api/);
    assert.throws(
      () =>
        compileRoutes([
          route({
            method: "POST",
            operation:
              "mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }",
            parameters: [],
            path: "/api/users/login",
          }),
        ]),
      /nothing fills \$email/,
    );
  });

  test("typed parameters: integers, booleans, enums, non-empty strings", () => {
    const intType = schema
      .getQueryType()!
      .getFields()
      .products!.args.find((a) => a.name === "first")!.type;
    assert.equal(parseParameter("first", "20", intType), 20);
    assert.equal(parseParameter("first", "-3", intType), -3);
    for (const bad of ["abc", "1.5", "", "1e3", "2147483648", "0x10"]) {
      assert.throws(
        () => parseParameter("first", bad, intType),
        (e: { code?: string; details?: { field?: string } }) =>
          e.code === "BAD_USER_INPUT" && e.details?.field === "first",
        bad,
      );
    }
    const idType = schema.getQueryType()!.getFields().product!.args[0]!.type;
    assert.equal(parseParameter("id", "prod-001", idType), "prod-001");
    assert.throws(() => parseParameter("id", "", idType), /"id"/);
  });

  test("variables come from path, query, header and body; refusals name the field", () => {
    const input = { params: {}, query: {}, headers: {}, body: undefined };
    assert.deepEqual(buildVariables(byId("listProducts"), schema, { ...input, query: { first: "5", after: "c" } }), {
      first: 5,
      after: "c",
    });
    assert.deepEqual(buildVariables(byId("listProducts"), schema, input), {});
    assert.deepEqual(
      buildVariables(byId("login"), schema, { ...input, body: { email: "a@example.com", password: "p" } }),
      { email: "a@example.com", password: "p" },
    );
    const payment = byId("processPayment");
    assert.deepEqual(
      buildVariables(payment, schema, {
        ...input,
        headers: { "idempotency-key": "k1" },
        body: { orderId: "o1", paymentMethod: "pm_card_ok" },
      }),
      { input: { orderId: "o1", paymentMethod: "pm_card_ok", idempotencyKey: "k1" } },
    );
    const refused = (fn: () => unknown, field: string | undefined) =>
      assert.throws(fn, (e: { code?: string; details?: { field?: string } }) => {
        assert.equal(e.code, "BAD_USER_INPUT");
        assert.equal(e.details?.field, field);
        return true;
      });
    refused(
      () =>
        buildVariables(payment, schema, {
          ...input,
          headers: { "idempotency-key": "k1" },
          body: { orderId: "o1", paymentMethod: "pm", idempotencyKey: "k2" },
        }),
      "Idempotency-Key",
    );
    refused(
      () => buildVariables(payment, schema, { ...input, body: { orderId: "o1", paymentMethod: "pm" } }),
      "idempotencyKey",
    );
    refused(
      () =>
        buildVariables(byId("placeOrder"), schema, {
          ...input,
          body: { items: [{ productId: "p", quantity: 1 }, { productId: "p" }] },
        }),
      "items[1].quantity",
    );
    refused(() => buildVariables(byId("placeOrder"), schema, { ...input, body: {} }), "items");
    refused(() => buildVariables(byId("placeOrder"), schema, { ...input, body: [] }), undefined);
    refused(() => buildVariables(byId("login"), schema, { ...input, body: { email: "a", password: "p", x: 1 } }), "x");
    refused(() => buildVariables(byId("login"), schema, { ...input, body: { email: 1, password: "p" } }), "email");
    refused(() => buildVariables(byId("listProducts"), schema, { ...input, query: { first: ["1", "2"] } }), "first");
  });

  test("the OpenAPI document is valid OpenAPI 3.1 and typed from the GraphQL schema", async () => {
    const document = buildOpenApi(schema, compiled) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
      >;
      components: { schemas: Record<string, { enum?: string[] }> };
    };
    const result = await new Validator().validate(document);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.deepEqual(document.components.schemas.OrderStatus?.enum, ["PENDING", "PAID", "CANCELLED"]);
    const order = document.paths["/api/orders/{id}"]!.get!.responses["200"]!.content!["application/json"]!.schema as {
      properties: Record<string, unknown>;
    };
    const payment = order.properties.payment as { type: string[]; title: string };
    assert.deepEqual([payment.title, payment.type], ["Payment", ["object", "null"]], "a nullable field admits null");
    assert.deepEqual(order.properties.status, { $ref: "#/components/schemas/OrderStatus" });
  });
});
