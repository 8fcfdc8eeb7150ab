// What a caller may see: the supergraph's @authenticated/@requiresScopes policy, documents filtered to it, and the nulls and errors in their place.
export {
  type AuthorizationPolicy,
  authorizationPlugin,
  readAuthorizationPolicy,
  withoutSecurityMarks,
} from "./plugin.ts";
