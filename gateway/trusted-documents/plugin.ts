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

/** What an untrusted request runs instead of its own document until it is refused. */
const STAND_IN = "{ __typename }";

/**
 * Resolves trusted ids to their documents and, in trusted-only mode, refuses everything else.
 *
 * It acts in `requestDidStart`, the one hook that runs before Apollo Server reads `query` and
 * `extensions.persistedQuery`: a trusted id gets its body filled in and the extension removed, so
 * Apollo Server runs it as an ordinary document (its document cache keyed by the hash it computes
 * anyway) and never stores it in the APQ cache. Unknown ids are left to APQ outside trusted-only
 * mode. The cost per request is one or two Map lookups; nothing is hashed or parsed here.
 *
 * A refusal cannot be thrown where it is decided: Apollo Server answers any error from a hook
 * before `didResolveOperation` as a 500. So an untrusted request has its document swapped for a
 * constant one (parsed and validated once, then cached: nothing of the client's text is parsed,
 * validated or planned) and is refused from `didResolveOperation` with its contract code.
 */
export function trustedDocumentsPlugin(options: TrustedDocumentsPluginOptions): ApolloServerPlugin<GatewayContext> {
  const { documents } = options;
  const only = options.only ?? false;
  return {
    async requestDidStart({ request }) {
      const persisted = request.extensions?.persistedQuery as PersistedQueryExtension | undefined;
      let reason: string;
      if (persisted !== undefined && persisted !== null) {
        const id = persisted.sha256Hash;
        const body = typeof id === "string" && persisted.version === 1 ? documents.bodyOf(id) : undefined;
        if (body !== undefined && (request.query === undefined || request.query === body)) {
          request.query = body;
          request.extensions = withoutPersistedQuery(request.extensions!);
          return;
        }
        if (!only) return;
        reason =
          request.query === undefined
            ? "This gateway runs only trusted documents, and this id is not one of them"
            : "This gateway runs only trusted documents: it does not register new ones";
        request.extensions = withoutPersistedQuery(request.extensions!);
      } else {
        if (!only || typeof request.query !== "string" || request.query === "" || documents.trusts(request.query))
          return;
        reason = "This gateway runs only trusted documents, and this is not one of them";
      }
      request.query = STAND_IN;
      request.operationName = undefined;
      return {
        async didResolveOperation() {
          throw gatewayError("OPERATION_NOT_TRUSTED", reason);
        },
      };
    },
  };
}

function withoutPersistedQuery(extensions: Record<string, unknown>): Record<string, unknown> {
  const { persistedQuery: _, ...rest } = extensions;
  return rest;
}
