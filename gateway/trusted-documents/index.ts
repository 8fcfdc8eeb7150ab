// Trusted documents: the persisted query manifest, its builder, and running only known operations.
import type { ApolloServerPlugin } from "@apollo/server";
import type { Logger } from "pino";
import type { GatewayContext } from "../context.ts";
import { readManifest, TrustedDocuments } from "./manifest.ts";
import type { TrustedDocumentsConfig } from "./options.ts";
import { trustedDocumentsPlugin } from "./plugin.ts";

export { apiSchemaOf, type BuildResult, buildManifest, type DocumentSource, readDocuments } from "./build.ts";
export {
  MANIFEST_FORMAT,
  type Manifest,
  ManifestError,
  type ManifestOperation,
  operationId,
  parseManifest,
  readManifest,
  TrustedDocuments,
} from "./manifest.ts";
export type { TrustedDocumentsConfig } from "./options.ts";
export { type TrustedDocumentsPluginOptions, trustedDocumentsPlugin } from "./plugin.ts";

export interface TrustedDocumentsOptions {
  /** Documents the gateway sends itself (the REST shim's operations): always trusted. @default [] */
  own?: readonly string[];
  logger?: Pick<Logger, "info">;
}

export interface TrustedDocumentsStage {
  readonly documents: TrustedDocuments;
  /** Whether only trusted documents run (APQ is then off). */
  readonly only: boolean;
  readonly plugin: ApolloServerPlugin<GatewayContext>;
}

/** Reads the manifest once at start-up (a missing or invalid one stops the gateway) and builds the plugin. */
export function createTrustedDocuments(
  config: TrustedDocumentsConfig,
  options: TrustedDocumentsOptions = {},
): TrustedDocumentsStage {
  const manifest = config.path === null ? null : readManifest(config.path);
  const documents = new TrustedDocuments(manifest, options.own ?? []);
  if (manifest) {
    options.logger?.info(
      { path: config.path, operations: manifest.operations.length, only: config.only },
      "trusted documents loaded",
    );
  }
  return { documents, only: config.only, plugin: trustedDocumentsPlugin({ documents, only: config.only }) };
}
