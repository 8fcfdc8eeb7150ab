// Who is calling: bearer tokens verified against JWKS or a shared secret, and opaque tokens through RFC 7662 introspection.
export { type Authenticator, type AuthenticatorOptions, createAuthenticator } from "./authenticator.ts";
