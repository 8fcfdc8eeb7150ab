/**
 * The gateway on typical federated queries, against itself with @apollo/gateway's default subgraph
 * HTTP client: the reference point for the other benchmarks. `npm run bench`.
 */
import { compare, shopScenarios } from "./lib.ts";

await compare({
  title: "gateway: keep-alive undici subgraph client (baseline) vs @apollo/gateway's default fetcher",
  variants: [{ name: "gateway" }, { name: "default-fetcher", env: { SUBGRAPH_FETCHER: "default" } }],
  scenarios: (ctx) => shopScenarios(ctx),
});
