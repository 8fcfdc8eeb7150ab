// The REST shim on /api/*: routes compiled to GraphQL operations, run through the same Apollo pipeline, and its OpenAPI document.
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { fastifyRefusal } from "../refusals.ts";
import { type CompiledRoute, checkAgainstSchema, compileRoutes } from "./compile.ts";
import { expandTemplate, interpret, type Pipeline, runOperation, valueAt } from "./execute.ts";
import { errorBody, RestError, sendError, sendJson, sendRestError } from "./http.ts";
import { buildOpenApi } from "./openapi.ts";
import { type RestRoute, ROUTES } from "./routes.ts";
import { buildVariables } from "./variables.ts";

export { type RestRoute, ROUTES } from "./routes.ts";

export interface RestOptions extends Pipeline {
  /** The API schema being served (follows supergraph reloads); undefined until one is loaded. */
  schema: () => GraphQLSchema | undefined;
  /** Largest accepted JSON body; larger ones get 413. @default 65536 */
  bodyLimitBytes?: number;
  /** @default ROUTES */
  routes?: readonly RestRoute[];
  /** Where the shim reports operations that no longer fit the served schema. */
  logger?: Pick<Logger, "warn" | "error">;
}

/** Mounted under this prefix; the route table's paths carry it. */
export const REST_PREFIX = "/api";

const OTHER_METHODS: HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * The REST shim: `/api/*` routes from the declarative table, each running its GraphQL operation
 * in-process through the gateway's Apollo Server, so authentication, limits, logging and metrics
 * are those of `/graphql`. Register with `{ prefix: "/api" }`.
 *
 * Why not sofa-api: it answers 200 with `null` for a missing resource, drops the data of a
 * partial result when there are errors, and executes against a schema with its own execute
 * function rather than through the Apollo Server pipeline (so none of the gateway's plugins would
 * apply). Status codes, 405/415/413, ETags and Link pagination would all have to be added around
 * it anyway; a small table and executor keep every rule in one place.
 */
export const restRoutes: FastifyPluginAsync<RestOptions> = async (app, options) => {
  const compiled = compileRoutes(options.routes ?? ROUTES);
  const bodyLimit = options.bodyLimitBytes ?? 65_536;
  const openApi = new WeakMap<GraphQLSchema, unknown>();
  const checked = new WeakSet<GraphQLSchema>();

  /** Checks each newly served schema once, so a drifted table shows up in the logs at once. */
  function currentSchema(): GraphQLSchema | undefined {
    const schema = options.schema();
    if (schema && !checked.has(schema)) {
      checked.add(schema);
      const problems = checkAgainstSchema(schema, compiled);
      if (problems.length > 0) options.logger?.error({ problems }, "REST routes do not fit the served schema");
    }
    return schema;
  }

  // JSON only: no text/plain (Fastify's other default), so anything else is a 415.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof RestError) return sendRestError(request, reply, error);
    const refusal = fastifyRefusal(error);
    if (refusal) return sendRestError(request, reply, new RestError(refusal.code, refusal.message));
    options.logger?.error({ err: error, url: request.url }, "REST route failed");
    return sendError(request, reply, 500, errorBody("INTERNAL_SERVER_ERROR", "Internal server error"));
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, errorBody("NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0]}`)),
  );

  const byPath = new Map<string, CompiledRoute[]>();
  for (const route of compiled) {
    byPath.set(route.route.path, [...(byPath.get(route.route.path) ?? []), route]);
    app.route({
      method: route.route.method,
      url: route.route.path.slice(REST_PREFIX.length),
      ...(route.route.body && { bodyLimit }),
      handler: (request, reply) => handle(route, request, reply),
    });
  }

  const openApiPath = "/openapi.json";
  app.get(openApiPath, (request, reply) => {
    const schema = currentSchema();
    if (!schema) return sendError(request, reply, 503, errorBody("SUBGRAPH_UNAVAILABLE", "No schema is loaded yet"));
    let document = openApi.get(schema);
    if (!document) {
      document = buildOpenApi(schema, compiled);
      openApi.set(schema, document);
    }
    return sendJson(request, reply, 200, document);
  });
  byPath.set(`${REST_PREFIX}${openApiPath}`, []);

  // A known path with another method: 405 with Allow (OPTIONS answers with Allow alone).
  for (const [path, routes] of byPath) {
    const methods = new Set<string>(routes.map((r) => r.route.method));
    if (routes.length === 0) methods.add("GET");
    if (methods.has("GET")) methods.add("HEAD");
    methods.add("OPTIONS");
    const allow = [...methods].join(", ");
    const others = OTHER_METHODS.filter((m) => !methods.has(m) || m === "OPTIONS");
    app.route({
      method: others,
      url: path.slice(REST_PREFIX.length),
      exposeHeadRoute: false,
      bodyLimit,
      handler: (request, reply) => {
        reply.header("allow", allow);
        if (request.method === "OPTIONS") return reply.code(204).send();
        return sendError(
          request,
          reply,
          405,
          errorBody("METHOD_NOT_ALLOWED", `${request.method} is not allowed here; use ${allow}`),
        );
      },
    });
  }

  async function handle(route: CompiledRoute, request: FastifyRequest, reply: FastifyReply) {
    const variables = buildVariables(route, currentSchema(), {
      params: request.params as Record<string, string>,
      query: request.query as Record<string, string | string[]>,
      headers: request.headers,
      body: request.body,
    });
    const result = interpret(route, await runOperation(options, route, variables, request));
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    if (result.kind === "error") return sendError(request, reply, result.status, result.body);

    const { location, pagination } = route.route;
    const target = location && expandTemplate(location, result.resource);
    if (target) reply.header("location", target);
    if (pagination && hasNextPage(result.resource, pagination)) {
      const cursor = String(valueAt(result.resource, pagination.endCursor));
      const mark = request.url.indexOf("?");
      const path = mark < 0 ? request.url : request.url.slice(0, mark);
      const query = new URLSearchParams(mark < 0 ? "" : request.url.slice(mark + 1));
      query.set(pagination.param, cursor);
      reply.header("link", `<${path}?${query.toString()}>; rel="next"`);
    }
    return sendJson(request, reply, result.status, result.resource);
  }
};

function hasNextPage(resource: unknown, pagination: NonNullable<RestRoute["pagination"]>): boolean {
  const cursor = valueAt(resource, pagination.endCursor);
  return valueAt(resource, pagination.hasNextPage) === true && typeof cursor === "string";
}
