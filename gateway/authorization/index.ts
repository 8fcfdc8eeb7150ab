// What a caller may see: the supergraph's @authenticated/@requiresScopes policy, documents filtered to it, and the nulls and errors in their place.
export {
  type Authorization,
  type AuthorizationOptions,
  type AuthorizedOperation,
  createAuthorization,
} from "./enforce.ts";
export { type AuthorizationPolicy, readAuthorizationPolicy, withoutSecurityMarks } from "./policy.ts";
