import type { FastifyPluginAsync } from "fastify";

export interface HealthOptions {
  /** True while a supergraph is loaded and requests can be served. */
  ready: () => boolean;
  /** Extra detail shown on /readyz. */
  describe?: () => Record<string, unknown>;
}

/** `GET /healthz` (liveness: the process serves) and `GET /readyz` (readiness: it can serve GraphQL). */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, options) => {
  app.get("/healthz", async (_request, reply) => reply.header("cache-control", "no-store").send({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const ready = options.ready();
    return reply
      .code(ready ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: ready ? "ready" : "unavailable", ...options.describe?.() });
  });
};
