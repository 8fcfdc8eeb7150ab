/** The variable that holds the shared secret signing identity tokens. */
export const INTERNAL_SECRET_VARIABLE = "INTERNAL_SECRET";
/** The shortest secret accepted, in characters. */
export const MIN_INTERNAL_SECRET_LENGTH = 32;
/**
 * Stands in for INTERNAL_SECRET only on a development machine: unset, outside production, listening
 * on loopback. `npm start` always sets a random one.
 */
export const DEVELOPMENT_INTERNAL_SECRET = "development-only-internal-secret-do-not-deploy";

/** True for a host that only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

export interface InternalSecretOptions {
  /** NODE_ENV is "production". */
  production: boolean;
  /** The address the process listens on. */
  host: string;
}

/**
 * The internal secret, failing closed: a value shorter than 32 characters is refused, and a missing
 * one is replaced by the development secret only outside production on a loopback address —
 * anywhere else anyone who read this file could sign identities. Returns an error message naming
 * the variable instead of a secret when refused.
 */
export function resolveInternalSecret(
  value: string | undefined,
  options: InternalSecretOptions,
): { secret: string } | { error: string } {
  if (value === undefined || value === "") {
    if (options.production) {
      return { error: `${INTERNAL_SECRET_VARIABLE} is required in production (32+ characters)` };
    }
    if (!isLoopbackHost(options.host)) {
      return {
        error: `${INTERNAL_SECRET_VARIABLE} is required when listening on ${options.host}, not loopback (32+ characters)`,
      };
    }
    return { secret: DEVELOPMENT_INTERNAL_SECRET };
  }
  if (value.length < MIN_INTERNAL_SECRET_LENGTH) {
    return { error: `${INTERNAL_SECRET_VARIABLE} must be at least ${MIN_INTERNAL_SECRET_LENGTH} characters` };
  }
  return { secret: value };
}
