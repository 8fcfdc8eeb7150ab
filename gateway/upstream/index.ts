// Calls to the subgraphs: the keep-alive client that signs the caller's identity and carries the deadline, instance pools (least outstanding, circuits, probes) with a retry budget, and the 503 for an unreachable subgraph.
export {
  createSubgraphTransport,
  IDENTITY_HEADER,
  IdentitySigner,
  REQUEST_TIMEOUT_HEADER,
  SubgraphDataSource,
  type SubgraphRequest,
  type SubgraphResponse,
  type SubgraphTransport,
  signIdentity,
} from "./client.ts";
export {
  balancedTransport,
  type CircuitState,
  InstancePool,
  type InstancePoolOptions,
  type InstanceProbe,
} from "./pool.ts";
export { RetryBudget, type RetryBudgetOptions } from "./retry-budget.ts";
export { subgraphUnavailableStatus } from "./status.ts";
