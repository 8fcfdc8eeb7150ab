// Calls to the subgraphs: the keep-alive client that signs the caller's identity, instance pools with failover, and the 503 for an unreachable subgraph.
export { createSubgraphFetcher, IDENTITY_HEADER, SubgraphDataSource, signIdentity } from "./client.ts";
export { balancedFetcher, InstancePool } from "./pool.ts";
export { subgraphUnavailableStatus } from "./status.ts";
