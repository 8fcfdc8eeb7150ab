import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../gateway/config.ts";
import { OperationLabels } from "../../gateway/observability/metrics.ts";
import { newRecord, noteErrors, settle, sniffErrorBody } from "../../gateway/observability/record.ts";
import { requestIdOf, traceIdOf } from "../../gateway/observability/request-id.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

test("request ids: kept when acceptable, else the traceparent's trace id, else a new UUID", () => {
  assert.equal(requestIdOf({ "x-request-id": "abc-123" }), "abc-123");
  assert.equal(requestIdOf({ "x-request-id": "a b", traceparent: `00-${TRACE}-00f067aa0ba902b7-01` }), TRACE);
  assert.match(requestIdOf({ "x-request-id": "x".repeat(129) }), /^[0-9a-f-]{36}$/);
  assert.match(requestIdOf({ "x-request-id": 'a"}\n' }), /^[0-9a-f-]{36}$/);
  assert.match(requestIdOf({}), /^[0-9a-f-]{36}$/);
});

test("traceparent: only valid W3C values count", () => {
  assert.equal(traceIdOf(`00-${TRACE}-00f067aa0ba902b7-01`), TRACE);
  assert.equal(traceIdOf(`00-${"0".repeat(32)}-00f067aa0ba902b7-01`), null);
  assert.equal(traceIdOf(`00-${TRACE}-${"0".repeat(16)}-01`), null);
  assert.equal(traceIdOf(`ff-${TRACE}-00f067aa0ba902b7-01`), null);
  assert.equal(traceIdOf(`00-${TRACE}-00f067aa0ba902b7-01-extra`), null);
  assert.equal(traceIdOf("garbage"), null);
});

test("operation labels: unnamed and invalid fold into unknown, names past the cap into other", () => {
  const labels = new OperationLabels({ max: 2, earnWindows: 1 });
  assert.equal(labels.of(null), "unknown");
  assert.equal(labels.of("not a name"), "unknown");
  assert.equal(labels.of("A"), "A");
  assert.equal(labels.of("B"), "B");
  assert.equal(labels.of("C"), "other");
  assert.equal(labels.of("A"), "A");
});

test("records: codes collected once; a 4xx/5xx makes the first coded error the refusal", () => {
  const record = newRecord("r", null, null);
  noteErrors(record, [
    {
      message: "Rate limit exceeded for Query.products",
      extensions: { code: "RATE_LIMITED", field: "Query.products" },
    },
    { message: "x", extensions: { code: "RATE_LIMITED" } },
    { message: "no code" },
  ]);
  assert.deepEqual(record.errorCodes, ["RATE_LIMITED"]);
  settle(record, 200);
  assert.equal(record.refusal, null);
  settle(record, 429);
  assert.deepEqual(record.refusal, {
    code: "RATE_LIMITED",
    reason: "Rate limit exceeded for Query.products",
    field: "Query.products",
  });
});

test("records: parse and validation messages are not logged as reasons (they quote the document)", () => {
  const record = newRecord("r", null, null);
  noteErrors(record, [{ message: 'Syntax Error: Unexpected "secret"', extensions: { code: "GRAPHQL_PARSE_FAILED" } }]);
  settle(record, 400);
  assert.equal(record.refusal?.reason, "GRAPHQL_PARSE_FAILED");
});

test("records: codes are read back from GraphQL and REST error bodies", () => {
  const graphql = newRecord("r", null, null);
  sniffErrorBody(graphql, JSON.stringify({ errors: [{ message: "m", extensions: { code: "UNAUTHENTICATED" } }] }));
  assert.deepEqual(graphql.errorCodes, ["UNAUTHENTICATED"]);
  const rest = newRecord("r", null, null);
  sniffErrorBody(rest, Buffer.from(JSON.stringify({ error: { code: "NOT_FOUND", message: "m" } })));
  assert.deepEqual(rest.errorCodes, ["NOT_FOUND"]);
  const other = newRecord("r", null, null);
  sniffErrorBody(other, "not json");
  sniffErrorBody(other, JSON.stringify({ message: "Route not found", error: "Not Found" }));
  assert.deepEqual(other.errorCodes, []);
});

test("config: observability switches and the OTLP endpoint", () => {
  const defaults = loadConfig({}).observability;
  assert.equal(defaults.logRequests, true);
  assert.equal(defaults.metricsEnabled, true);
  assert.equal(defaults.otlpTracesUrl, null);
  const on = loadConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    LOG_REQUESTS: "false",
    METRICS_ENABLED: "off",
  }).observability;
  assert.equal(on.otlpTracesUrl, "http://127.0.0.1:4318/v1/traces");
  assert.equal(on.logRequests, false);
  assert.equal(on.metricsEnabled, false);
  assert.equal(
    loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/custom" }).observability.otlpTracesUrl,
    "http://collector:4318/custom",
  );
  assert.equal(
    loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).observability.otlpTracesUrl,
    null,
  );
  for (const [name, value] of [
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"],
    ["OTEL_TRACES_SAMPLER_ARG", "2"],
    ["LOG_REQUESTS", "maybe"],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: Error) => error.message.includes(name),
    );
  }
});
