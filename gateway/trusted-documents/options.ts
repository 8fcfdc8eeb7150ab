/** Trusted documents settings, read once by `loadConfig` (gateway/config.ts). */
export interface TrustedDocumentsConfig {
  /**
   * A persisted query manifest (Apollo's format, built by `npm run documents:build`): its
   * operations can be sent by id. Null: no manifest. @default null (env TRUSTED_DOCUMENTS)
   */
  readonly path: string | null;
  /**
   * Run only the manifest's operations (by id or exact text) and the gateway's own (the REST
   * shim's); everything else, APQ registration included, is refused with OPERATION_NOT_TRUSTED.
   * @default true in production when a manifest is given, else false (env TRUSTED_DOCUMENTS_ONLY)
   */
  readonly only: boolean;
}
