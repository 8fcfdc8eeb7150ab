// What the gateway and the services agree on across process boundaries: the signed identity token, the request's deadline, the request id, the W3C trace context, the identity keys and how a process stops; the libraries only some deployments load; and how a built process runs from its code cache.
export * from "./code-cache.ts";
export * from "./deadline.ts";
export * from "./identity-keys.ts";
export * from "./identity-token.ts";
export * from "./lifecycle.ts";
export * from "./optional-modules.ts";
export * from "./request-id.ts";
export * from "./trace-context.ts";
