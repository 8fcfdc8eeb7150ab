import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HeaderMap } from "@apollo/server";
import { gatewayError } from "../../gateway/errors.ts";
import { compileRoutes } from "../../gateway/rest/compile.ts";
import {
  expandTemplate,
  type GraphQLOutcome,
  interpret,
  type Pipeline,
  readResponse,
  runOperation,
} from "../../gateway/rest/execute.ts";
import { etagOf, noneMatch } from "../../gateway/rest/http.ts";
import { ROUTES } from "../../gateway/rest/routes.ts";

const routes = compileRoutes(ROUTES);
const byId = (id: string) => routes.find((c) => c.route.id === id)!;
const outcome = (partial: Partial<GraphQLOutcome>): GraphQLOutcome => ({
  status: 200,
  headers: {},
  data: null,
  errors: [],
  ...partial,
});

describe("REST result rules", () => {
  test("a resource answers with the route's status", () => {
    const result = interpret(byId("getProduct"), outcome({ data: { product: { id: "p1" } } }));
    assert.deepEqual(result, { kind: "success", status: 200, headers: {}, resource: { id: "p1" } });
    const created = interpret(byId("placeOrder"), outcome({ data: { placeOrder: { id: "o1" } } }));
    assert.equal(created.status, 201);
  });

  test("null without errors is 404 NOT_FOUND, not 200 with null", () => {
    const result = interpret(byId("getProduct"), outcome({ data: { product: null } }));
    assert.equal(result.kind, "error");
    assert.equal(result.status, 404);
    assert.equal(result.kind === "error" && result.body.error.code, "NOT_FOUND");
    assert.equal(interpret(byId("listMyOrders"), outcome({ data: { me: null } })).status, 404);
  });

  test("error codes map through the registry", () => {
    const cases: [string, number][] = [
      ["UNAUTHENTICATED", 401],
      ["FORBIDDEN", 403],
      ["BAD_USER_INPUT", 400],
      ["INSUFFICIENT_STOCK", 409],
      ["PAYMENT_DECLINED", 402],
      ["RATE_LIMITED", 429],
      ["COST_LIMIT_EXCEEDED", 400],
      ["SUBGRAPH_UNAVAILABLE", 503],
      ["SOMETHING_ELSE", 500],
    ];
    for (const [code, status] of cases) {
      const result = interpret(
        byId("getOrder"),
        outcome({ data: { order: null }, errors: [{ message: "m", extensions: { code } }] }),
      );
      assert.equal(result.status, status, code);
    }
    // The shim's own operation failing validation is the server's fault, never the client's.
    const drift = interpret(
      byId("getOrder"),
      outcome({
        status: 400,
        data: undefined,
        errors: [{ message: "m", extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }],
      }),
    );
    assert.equal(drift.status, 500);
    const unreachable = interpret(
      byId("getOrder"),
      outcome({ status: 502, data: null, errors: [{ message: "m", extensions: { code: "SUBGRAPH_UNAVAILABLE" } }] }),
    );
    assert.equal(unreachable.status, 502);
  });

  test("a GET never serves partial data: the error wins", () => {
    const result = interpret(
      byId("getOrder"),
      outcome({
        data: { order: { id: "o1", payment: null } },
        errors: [{ message: "down", path: ["order", "payment"], extensions: { code: "SUBGRAPH_UNAVAILABLE" } }],
      }),
    );
    assert.equal(result.kind, "error");
    assert.equal(result.status, 503);
  });

  test("a POST whose side effect happened keeps its status and reports the errors in the body", () => {
    const result = interpret(
      byId("placeOrder"),
      outcome({
        data: { placeOrder: { id: "o1", items: null } },
        errors: [{ message: "boom", path: ["placeOrder", "items"], extensions: { code: "INTERNAL_SERVER_ERROR" } }],
      }),
    );
    assert.equal(result.kind, "success");
    assert.equal(result.status, 201);
    assert.deepEqual(result.kind === "success" && result.resource, {
      id: "o1",
      items: null,
      errors: [{ code: "INTERNAL_SERVER_ERROR", message: "boom", path: ["placeOrder", "items"] }],
    });
  });

  test("429 keeps the pipeline's headers, and gets Retry-After from extensions when there is none", () => {
    const limited = { message: "slow down", extensions: { code: "RATE_LIMITED", retryAfter: 12.2 } };
    const withHeaders = interpret(
      byId("login"),
      outcome({ data: null, errors: [limited], headers: { "retry-after": "30", ratelimit: '"login";r=0;t=30' } }),
    );
    assert.equal(withHeaders.status, 429);
    assert.deepEqual(withHeaders.headers, { "retry-after": "30", ratelimit: '"login";r=0;t=30' });
    assert.equal(withHeaders.kind === "error" && withHeaders.body.error.retryAfter, 12.2);
    const bare = interpret(byId("login"), outcome({ data: null, errors: [limited] }));
    assert.equal(bare.headers["retry-after"], "13");
  });

  test("every 401 carries a WWW-Authenticate challenge", () => {
    const error = {
      message: "Invalid token: expired",
      extensions: { code: "UNAUTHENTICATED" },
    };
    const result = interpret(byId("getMe"), outcome({ status: 401, data: undefined, errors: [error] }));
    assert.equal(result.status, 401);
    assert.match(result.headers["www-authenticate"] ?? "", /^Bearer /);
    assert.equal(result.kind === "error" && result.body.error.message, "Invalid token: expired");
    const kept = interpret(
      byId("getMe"),
      outcome({ data: null, errors: [error], headers: { "www-authenticate": 'Bearer error="invalid_token"' } }),
    );
    assert.equal(kept.headers["www-authenticate"], 'Bearer error="invalid_token"');
  });

  test("a caller refused while its context is built is answered from the refusal as thrown", async () => {
    let ran = false;
    const pipeline = {
      apollo: {
        executeHTTPGraphQLRequest: () => {
          ran = true;
          throw new Error("the operation must not run");
        },
      },
      buildContext: async () => {
        throw gatewayError("UNAUTHENTICATED", "Invalid token: expired", {
          headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
        });
      },
    } as unknown as Pipeline;
    const request = { headers: {} } as Parameters<typeof runOperation>[3];
    const refused = await runOperation(pipeline, byId("getMe"), {}, request);
    assert.equal(ran, false);
    const result = interpret(byId("getMe"), refused);
    assert.equal(result.status, 401);
    assert.equal(result.headers["www-authenticate"], 'Bearer error="invalid_token"');
    assert.deepEqual(result.kind === "error" && result.body, {
      error: { code: "UNAUTHENTICATED", message: "Invalid token: expired" },
    });

    const broken = { ...pipeline, buildContext: async () => Promise.reject(new Error("boom")) } as Pipeline;
    await assert.rejects(runOperation(broken, byId("getMe"), {}, request), /boom/);
  });

  test("response headers from the pipeline pass through, except the ones the shim owns", async () => {
    const read = await readResponse({
      status: 429,
      headers: new HeaderMap([
        ["content-type", "application/graphql-response+json"],
        ["cache-control", "public, max-age=60"],
        ["retry-after", "7"],
        ["ratelimit-policy", '"login";q=5;w=60'],
        ["x-request-id", "abc"],
      ]),
      body: {
        kind: "complete",
        string: JSON.stringify({ errors: [{ message: "x", extensions: { code: "RATE_LIMITED" } }] }),
      },
    });
    assert.deepEqual(read.headers, {
      "retry-after": "7",
      "ratelimit-policy": '"login";q=5;w=60',
      "x-request-id": "abc",
    });
    assert.equal(read.status, 429);
    assert.equal(read.errors[0]?.extensions?.code, "RATE_LIMITED");
  });

  test("Location templates read the resource and encode each value", () => {
    assert.equal(expandTemplate("/api/users/{user.id}", { user: { id: "a/b c" } }), "/api/users/a%2Fb%20c");
    assert.equal(expandTemplate("/api/orders/{id}", { id: null }), null);
  });

  test("If-None-Match: exact, weak, lists and *", () => {
    const etag = etagOf('{"id":"p1"}');
    assert.equal(etag, etagOf('{"id":"p1"}'));
    assert.notEqual(etag, etagOf('{"id":"p2"}'));
    assert.equal(noneMatch(etag, etag), true);
    assert.equal(noneMatch(`W/${etag}`, etag), true);
    assert.equal(noneMatch(`"a", ${etag}`, etag), true);
    assert.equal(noneMatch("*", etag), true);
    assert.equal(noneMatch('"other"', etag), false);
    assert.equal(noneMatch(undefined, etag), false);
  });
});
