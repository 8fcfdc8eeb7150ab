import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ERROR_CODES,
  errorBody,
  errorShapeOf,
  gatewayError,
  refusalOf,
  statusFor,
  statusOf,
} from "../../gateway/errors.ts";

test("every code has a status, and unknown codes are internal errors", () => {
  for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
    assert.ok(statusFor(code) >= 200 && statusFor(code) < 600, code);
  }
  assert.equal(statusOf("RATE_LIMITED"), 429);
  assert.equal(statusOf("SOMETHING_ELSE"), 500);
  assert.equal(statusOf(undefined), 500);
});

test("a refusal takes the GraphQL shape on /graphql and the REST shape elsewhere", () => {
  assert.equal(errorShapeOf("/graphql"), "graphql");
  assert.equal(errorShapeOf("/api/products"), "rest");
  assert.equal(errorShapeOf("/graphql/"), "rest");
  assert.deepEqual(errorBody("graphql", "RATE_LIMITED", "Too many requests", { retryAfter: 3 }), {
    errors: [{ message: "Too many requests", extensions: { code: "RATE_LIMITED", retryAfter: 3 } }],
  });
  assert.deepEqual(errorBody("rest", "RATE_LIMITED", "Too many requests", { retryAfter: 3 }), {
    error: { code: "RATE_LIMITED", message: "Too many requests", retryAfter: 3 },
  });
});

test("a thrown gateway error reads back as its refusal; anything else is not one", () => {
  const error = gatewayError("RATE_LIMITED", "slow down", {
    headers: { "Retry-After": "4" },
    extensions: { retryAfter: 4 },
  });
  assert.deepEqual(refusalOf(error), {
    code: "RATE_LIMITED",
    message: "slow down",
    status: 429,
    headers: { "retry-after": "4" },
    details: { retryAfter: 4 },
  });
  assert.equal(refusalOf(new Error("boom")), null);
});
