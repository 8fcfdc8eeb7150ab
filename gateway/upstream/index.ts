// Calls to the subgraphs: the keep-alive client that signs the caller's identity, instance pools with failover, and the 503 for an unreachable subgraph.
export {
  createSubgraphTransport,
  IDENTITY_HEADER,
  IdentitySigner,
  SubgraphDataSource,
  type SubgraphRequest,
  type SubgraphResponse,
  type SubgraphTransport,
  signIdentity,
} from "./client.ts";
export { balancedTransport, InstancePool } from "./pool.ts";
export { subgraphUnavailableStatus } from "./status.ts";
