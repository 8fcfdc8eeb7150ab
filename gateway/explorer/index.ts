// Development tools in the browser: GraphiQL on /graphql, the REST reference on /api/docs, and /status.
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { RequestRecord } from "../context.ts";
import { CONTENT_SECURITY_POLICY, docsPage, explorerPage, statusPage } from "./pages.ts";
import { BUNDLE_MANIFEST, CLIENT_DIR, DEFAULT_BUNDLE_DIR } from "./paths.ts";
import type { StatusSource } from "./status.ts";
import type { TrafficWindow } from "./traffic.ts";

export { type GatewayStatusOptions, gatewayStatus, type StatusSource } from "./status.ts";
export { type TrafficSnapshot, TrafficWindow, type TrafficWindowOptions } from "./traffic.ts";
export { prefersHtml };

export interface ExplorerOptions {
  /**
   * Serve the explorer, the REST reference and the status page. When false (always in production)
   * their paths answer 404 NOT_FOUND, and so does a browser's GET of the GraphQL endpoint.
   * @default true
   */
  enabled?: boolean;
  /** What the status page shows. Required when enabled. */
  status?: StatusSource;
  /** Feeds the status page's recent traffic from each finished request's observability record. */
  traffic?: { window: TrafficWindow; recordOf(request: FastifyRequest): RequestRecord | undefined };
  /** The GraphQL endpoint a browser opens. @default "/graphql" */
  endpoint?: string;
  /** The REST reference page. @default "/api/docs" */
  docsPath?: string;
  /** The OpenAPI document it renders. @default "/api/openapi.json" */
  openApiPath?: string;
  /** The status page; its data is at `${statusPath}.json`. @default "/status" */
  statusPath?: string;
  /** Where the explorer's assets are served from. @default "/explorer/" */
  assetsPath?: string;
  /** The bundle built by `npm run build:explorer`. @default gateway/explorer/bundle */
  bundleDir?: string;
  /** The operation shown in a fresh explorer tab. @default a catalogue query */
  defaultQuery?: string;
}

const DEFAULT_QUERY = `# Operations run against this gateway. Sign in with the login mutation and paste the
# token after "Bearer " in the Headers tab below to run the operations that need it.
query Catalogue {
  products(first: 3) {
    nodes { id name priceCents currency stock }
    pageInfo { endCursor hasNextPage }
    totalCount
  }
}
`;

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".ttf": "font/ttf",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json; charset=utf-8",
};

const SCALAR_SCRIPT = "scalar-api-reference.js";
const STATUS_SCRIPT = "status.js";
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The explorer plugin. It adds a root-level hook (the GraphQL endpoint belongs to Apollo Server,
 * and a browser's GET of it is answered before Apollo sees it), so it is registered without
 * encapsulation; register it before the GraphQL endpoint.
 */
export function explorer(options: ExplorerOptions = {}): FastifyPluginAsync {
  const endpoint = options.endpoint ?? "/graphql";
  const docsPath = options.docsPath ?? "/api/docs";
  const statusPath = options.statusPath ?? "/status";
  const assetsPath = options.assetsPath ?? "/explorer/";
  const enabled = options.enabled ?? true;
  if (enabled && !options.status) throw new Error("explorer: `status` is required when enabled");

  const plugin: FastifyPluginAsync = async (app) => {
    if (!enabled) {
      refuseAll(app, { endpoint, paths: [docsPath, statusPath, `${statusPath}.json`, `${assetsPath}*`] });
      return;
    }
    const bundle = new Bundle(options.bundleDir ?? DEFAULT_BUNDLE_DIR);
    const scalarScript = resolveScalar();
    const statusScript = readFileSync(join(CLIENT_DIR, STATUS_SCRIPT));
    const status = options.status!;

    app.addHook("onRequest", async (request, reply) => {
      if (request.method !== "GET" || pathOf(request.url) !== endpoint || !prefersHtml(request.headers.accept)) return;
      if (!bundle.ready()) {
        return sendGraphQLError(reply, "The explorer is not built: run `npm run build:explorer` and reload.");
      }
      const query = (request.query as Record<string, unknown> | undefined)?.query;
      const page = explorerPage(
        {
          endpoint,
          workersUrl: assetsPath,
          defaultQuery: options.defaultQuery ?? DEFAULT_QUERY,
          defaultHeaders: JSON.stringify({ Authorization: "Bearer " }, null, 2),
          ...(typeof query === "string" && query.length <= 20_000 && { initialQuery: query }),
        },
        assetsPath,
      );
      return sendHtml(reply, page);
    });

    if (options.traffic) {
      const { window, recordOf } = options.traffic;
      const own = new Set([`${assetsPath}:file`, docsPath, statusPath, `${statusPath}.json`]);
      app.addHook("onResponse", async (request, reply) => {
        const record = recordOf(request);
        const route = request.routeOptions.url ?? "unmatched";
        // As the metrics count them: operations, and requests refused as a whole (not this page's own).
        if (record && (record.graphql || record.refusal) && !own.has(route))
          window.record(route, reply.statusCode, record);
      });
    }

    app.get(`${assetsPath}:file`, async (request, reply) => {
      const { file } = request.params as { file: string };
      if (file === STATUS_SCRIPT)
        return reply.type(CONTENT_TYPES[".js"]!).header("cache-control", "no-cache").send(statusScript);
      if (file === SCALAR_SCRIPT) {
        if (!scalarScript) return sendRestError(reply, "The REST reference is not installed (@scalar/api-reference).");
        return sendFile(reply, scalarScript);
      }
      const path = bundle.file(file);
      if (!path) return sendRestError(reply, `No explorer asset ${file}`);
      reply.header("vary", "accept-encoding");
      if (bundle.has(`${file}.br`) && acceptsBrotli(request.headers["accept-encoding"])) {
        return sendFile(reply.header("content-encoding", "br"), `${path}.br`, extname(path));
      }
      return sendFile(reply, path);
    });

    app.get(docsPath, async (_request, reply) => {
      if (!scalarScript) return sendRestError(reply, "The REST reference is not installed (@scalar/api-reference).");
      return sendHtml(reply, docsPage(options.openApiPath ?? "/api/openapi.json", `${assetsPath}${SCALAR_SCRIPT}`));
    });

    app.get(statusPath, async (_request, reply) =>
      sendHtml(reply, statusPage(`${statusPath}.json`, `${assetsPath}${STATUS_SCRIPT}`)),
    );
    app.get(`${statusPath}.json`, async (_request, reply) => {
      const [subgraphs, supergraph, traffic] = [await status.subgraphs(), status.supergraph(), status.traffic()];
      return reply.header("cache-control", "no-store").send({ supergraph, subgraphs, traffic });
    });
  };
  // Hooks on the root instance, as fastify-plugin would do it.
  Object.assign(plugin, { [Symbol.for("skip-override")]: true });
  return plugin;
}

/** The built bundle; checked again on each miss, so building it while the gateway runs is enough. */
class Bundle {
  private files: Set<string> | null = null;

  constructor(private readonly dir: string) {}

  ready(): boolean {
    if (this.files) return true;
    if (!existsSync(join(this.dir, BUNDLE_MANIFEST))) return false;
    this.files = new Set(readdirSync(this.dir).filter((name) => ASSET_NAME.test(name)));
    return true;
  }

  file(name: string): string | null {
    return this.has(name) && !name.endsWith(".br") ? join(this.dir, name) : null;
  }

  has(name: string): boolean {
    return this.ready() && this.files!.has(name);
  }
}

function resolveScalar(): string | null {
  try {
    return createRequire(import.meta.url).resolve("@scalar/api-reference/browser/standalone.js");
  } catch {
    return null;
  }
}

function refuseAll(app: FastifyInstance, { endpoint, paths }: { endpoint: string; paths: string[] }): void {
  app.addHook("onRequest", async (request, reply) => {
    // A GET with a query is an operation: Apollo Server answers it (or refuses it) as usual.
    const query = (request.query as Record<string, unknown> | undefined)?.query;
    if (request.method !== "GET" || pathOf(request.url) !== endpoint || query !== undefined) return;
    if (!prefersHtml(request.headers.accept)) return;
    return sendGraphQLError(reply, "There is no explorer here: send GraphQL requests as application/json.");
  });
  for (const path of paths) {
    app.get(path, async (_request, reply) => sendRestError(reply, "Not found"));
  }
}

function sendGraphQLError(reply: FastifyReply, message: string) {
  return reply
    .code(404)
    .header("cache-control", "no-store")
    .type("application/json; charset=utf-8")
    .send({ errors: [{ message, extensions: { code: "NOT_FOUND" } }] });
}

function sendRestError(reply: FastifyReply, message: string) {
  return reply
    .code(404)
    .header("cache-control", "no-store")
    .send({ error: { code: "NOT_FOUND", message } });
}

function sendHtml(reply: FastifyReply, html: string) {
  return reply
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("vary", "accept")
    .send(html);
}

function sendFile(reply: FastifyReply, path: string, extension = extname(path)) {
  return reply
    .type(CONTENT_TYPES[extension] ?? "application/octet-stream")
    .header("cache-control", "no-cache")
    .header("x-content-type-options", "nosniff")
    .send(createReadStream(path));
}

function acceptsBrotli(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(",") : (header ?? "");
  return value.split(",").some((part) => {
    const [coding = "", ...params] = part.trim().toLowerCase().split(";");
    return coding.trim() === "br" && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Whether an Accept header ranks HTML above JSON, as a browser's navigation does
 * (`text/html,…,*\/*;q=0.8`) and an API client's (`application/json`, `*\/*`) does not.
 */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.trim().toLowerCase().split(";");
    const q = Number(
      params
        .map((p) => p.trim())
        .find((p) => p.startsWith("q="))
        ?.slice(2) ?? "1",
    );
    if (!Number.isFinite(q)) continue;
    if (type === "text/html") html = Math.max(html, q);
    else if (type === "application/json" || type === "application/graphql-response+json" || type === "application/*") {
      json = Math.max(json, q);
    } else if (type === "*/*") json = Math.max(json, q);
  }
  return html > 0 && html > json;
}
