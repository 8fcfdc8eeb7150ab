import type { ApolloServerPlugin } from "@apollo/server";
import type { GatewayContext } from "../context.ts";
import { gatewayError } from "../errors.ts";
import type { TrustedDocuments } from "./manifest.ts";

export interface TrustedDocumentsPluginOptions {
  readonly documents: TrustedDocuments;
  /** Refuse every document that is not trusted, by id or by text, and every APQ registration. @default false */
  readonly only?: boolean;
}

interface PersistedQueryExtension {
  sha256Hash?: unknown;
  version?: unknown;
}

/**
 * Resolves trusted ids to their documents and, in trusted-only mode, refuses everything else.
 *
 * It acts in `requestDidStart`, the one hook that runs before Apollo Server reads `query` and
 * `extensions.persistedQuery`: a trusted id gets its body filled in and the extension removed, so
 * Apollo Server runs it as an ordinary document (its document cache keyed by the hash it computes
 * anyway) and never stores it in the APQ cache. Unknown ids are left to APQ outside trusted-only
 * mode. The cost per request is one or two Map lookups; nothing is hashed or parsed here.
 */
export function trustedDocumentsPlugin(options: TrustedDocumentsPluginOptions): ApolloServerPlugin<GatewayContext> {
  const { documents } = options;
  const only = options.only ?? false;
  return {
    async requestDidStart({ request }) {
      const persisted = request.extensions?.persistedQuery as PersistedQueryExtension | undefined;
      if (persisted !== undefined && persisted !== null) {
        const id = persisted.sha256Hash;
        const body = typeof id === "string" && persisted.version === 1 ? documents.bodyOf(id) : undefined;
        if (body !== undefined && (request.query === undefined || request.query === body)) {
          request.query = body;
          const { persistedQuery: _, ...rest } = request.extensions!;
          request.extensions = rest;
          return;
        }
        if (only) {
          throw gatewayError(
            "OPERATION_NOT_TRUSTED",
            request.query === undefined
              ? "This gateway runs only trusted documents, and this id is not one of them"
              : "This gateway runs only trusted documents: it does not register new ones",
          );
        }
        return;
      }
      if (only && typeof request.query === "string" && request.query !== "" && !documents.trusts(request.query)) {
        throw gatewayError(
          "OPERATION_NOT_TRUSTED",
          "This gateway runs only trusted documents, and this is not one of them",
        );
      }
    },
  };
}
