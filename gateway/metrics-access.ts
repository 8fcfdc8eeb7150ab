import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import type { MetricsAccess } from "./config.ts";
import { restErrorBody } from "./errors.ts";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** An onRequest hook asking for `Authorization: Bearer <token>`, compared in constant time. */
function requireToken(token: string) {
  const expected = digest(token);
  return async (
    request: { headers: Record<string, string | string[] | undefined> },
    reply: import("fastify").FastifyReply,
  ) => {
    const header = request.headers.authorization;
    const given = typeof header === "string" && /^Bearer /i.test(header) ? header.slice(7).trim() : null;
    if (given !== null && timingSafeEqual(digest(given), expected)) return;
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="metrics"')
      .header("cache-control", "no-store")
      .type("application/json; charset=utf-8")
      .send(JSON.stringify(restErrorBody("UNAUTHENTICATED", "/metrics needs its bearer token")));
  };
}

export interface MetricsServer {
  /** Starts the metrics listener of its own, if there is one; resolves with its base URL or null. */
  listen(): Promise<string | null>;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` by the access rule (see MetricsAccess): on the public app, behind the token when
 * one is set; or on a listener of its own (METRICS_PORT), behind the token too when set; or, in
 * production with neither, not at all (the public app answers 404 NOT_FOUND).
 */
export async function serveMetrics(
  app: FastifyInstance,
  access: MetricsAccess,
  routes: FastifyPluginAsync,
): Promise<MetricsServer> {
  const guarded: FastifyPluginAsync = async (instance) => {
    if (access.token !== null) instance.addHook("onRequest", requireToken(access.token));
    await instance.register(routes);
  };
  if (access.port === null) {
    if (access.onPublicPort) await app.register(guarded);
    return { listen: async () => null, close: async () => {} };
  }
  const own = Fastify({ logger: false });
  await own.register(guarded);
  own.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type("application/json; charset=utf-8")
      .send(JSON.stringify(restErrorBody("NOT_FOUND", "Only /metrics is served here"))),
  );
  return {
    async listen() {
      await own.listen({ port: access.port!, host: access.host });
      const address = own.server.address();
      const port = typeof address === "object" && address ? address.port : access.port;
      const host = access.host === "0.0.0.0" ? "127.0.0.1" : access.host;
      return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    },
    close: () => own.close(),
  };
}
