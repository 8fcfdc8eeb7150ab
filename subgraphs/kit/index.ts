// The service kit every subgraph is built from: one validated configuration, runService() for the process, createSubgraphService() for the server, the signed identity, peer clients.
export { ConfigError, defineService, readServiceConfig, type ServiceConfig, variable } from "./config.ts";
export { openDatabase } from "./database.ts";
export {
  ANONYMOUS,
  assertCanRead,
  canRead,
  createIdentityVerifier,
  IDENTITY_HEADER,
  type Identity,
  type IdentityVerifier,
  isAdmin,
  isPeer,
  isService,
  requireUser,
  signIdentity,
  verifyIdentity,
} from "./identity.ts";
export { type RunServiceOptions, runService } from "./run.ts";
export {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type SubgraphContext,
  type SubgraphService,
  type SubgraphServiceOptions,
} from "./server.ts";
export { createServiceClient, type ServiceClient, type ServiceClientOptions, signerOf } from "./service-client.ts";
