// What the gateway and the services agree on across process boundaries: the signed identity token, the request's deadline, the request id, the W3C trace context, the identity keys and how a process stops; and the libraries only some deployments load.
export * from "./deadline.ts";
export * from "./identity-keys.ts";
export * from "./identity-token.ts";
export * from "./lifecycle.ts";
export * from "./optional-modules.ts";
export * from "./request-id.ts";
export * from "./trace-context.ts";
