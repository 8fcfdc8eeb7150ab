import assert from "node:assert/strict";
import { test } from "node:test";
import type { ApolloServerPlugin } from "@apollo/server";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../../gateway/context.ts";
import { composePipeline } from "../../gateway/pipeline.ts";

/** A plugin that only carries a name, to read the order back. */
const named = (name: string) => ({ name }) as unknown as ApolloServerPlugin<GatewayContext>;
const nameOf = (plugin: ApolloServerPlugin<GatewayContext>) => (plugin as unknown as { name: string }).name;

function stages(installed: string[]) {
  return {
    observability: {
      install: () => void installed.push("observability"),
      plugins: [named("observability:record"), named("observability:tracing")],
    },
    guards: { install: () => void installed.push("guards"), plugin: named("guards") },
    trustedDocuments: { plugin: named("trusted-documents") },
    authorization: { plugin: named("authorization") },
    responseCache: { plugins: [named("response-cache"), named("response-cache:invalidation")] },
    subgraphStatus: named("subgraph-status"),
    apollo: [named("apollo:drain"), named("apollo:landing-page-off")],
  };
}

test("request hooks: observability before the guards, so refused requests are still observed", () => {
  const installed: string[] = [];
  composePipeline(stages(installed)).install({} as FastifyInstance);
  assert.deepEqual(installed, ["observability", "guards"]);
});

test("operation plugins: trusted documents first, subgraph status, authorization before the guards, then the response cache, observability last", () => {
  const pipeline = composePipeline(stages([]));
  assert.deepEqual(pipeline.plugins.map(nameOf), [
    "apollo:drain",
    "apollo:landing-page-off",
    // Picks the document (a trusted id's body) and refuses untrusted ones before any work on it.
    "trusted-documents",
    "subgraph-status",
    "authorization",
    "guards",
    "response-cache",
    "response-cache:invalidation",
    "observability:record",
    "observability:tracing",
  ]);
});
