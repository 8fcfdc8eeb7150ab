import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { loadConfig } from "../../gateway/config.ts";
import { BUNDLE_MANIFEST, DEFAULT_BUNDLE_DIR } from "../../gateway/explorer/paths.ts";
import { createGateway, type Gateway } from "../../gateway/gateway.ts";
import { freePort } from "../helpers/net.ts";
import { type Stack, silent, startStack } from "../helpers/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = join(import.meta.dirname, "..", "output");
const BROWSER_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Chromium must be there in CI (.ci/run installs Debian's package); elsewhere the browser tests skip, saying why. */
function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === "true") throw new Error(`Chromium is required in CI: nothing at ${CHROMIUM}`);
  return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH; required when CI=true)`;
}

const browserSkip = chromiumSkip();
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Every request a page makes, and those that left this machine (aborted, so none ever does). */
class RequestLog {
  readonly urls: string[] = [];
  readonly outside: string[] = [];

  async attach(context: BrowserContext): Promise<void> {
    context.on("request", (request) => this.urls.push(request.url()));
    await context.route("**/*", async (route) => {
      const url = new URL(route.request().url());
      if ((url.protocol === "http:" || url.protocol === "https:") && !LOOPBACK.has(url.hostname)) {
        this.outside.push(url.href);
        await route.abort("blockedbyclient");
      } else {
        await route.continue();
      }
    });
  }
}

/** Rendered text, with Monaco's non-breaking spaces as spaces. */
async function textOf(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\u00a0/g, " ");
}

function get(url: string, accept: string) {
  return fetch(url, { headers: { accept } });
}

const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

describe("the explorer, REST reference and status page in a browser", { skip: browserSkip }, () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  const requests = new RequestLog();
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // `npm ci` builds it (prepare); a checkout that skipped that gets it built here.
    if (!existsSync(join(DEFAULT_BUNDLE_DIR, BUNDLE_MANIFEST))) {
      execFileSync(process.execPath, ["--import", "tsx", "scripts/build-explorer.ts"], { stdio: "ignore" });
    }
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await requests.attach(context);
    context.on("page", (page) => page.on("pageerror", (error) => pageErrors.push(error.message)));
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await stack?.close();
  });

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // The pages' Content-Security-Policy must not be what keeps them offline: nothing may be refused.
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    const response = await page.goto(`${stack.url}${path}`);
    assert.equal(response?.status(), 200, `${path} answers 200`);
    return page;
  }

  test("GraphiQL runs the catalogue query and shows the result", async () => {
    const expected = await stack.graphql<{ products: { nodes: { name: string }[] } }>(
      "{ products(first: 3) { nodes { name } } }",
    );
    const names = expected.body.data!.products.nodes.map((n) => n.name);
    const page = await open("/graphql");
    await page.locator(".graphiql-execute-button").click({ timeout: 30_000 });
    // The response editor shows the products the gateway serves (first lines are rendered).
    await page.locator(".graphiql-response", { hasText: names[0]! }).waitFor({ timeout: 30_000 });
    assert.match(await textOf(page.locator(".graphiql-response")), /"totalCount": \d+/);
    // The headers editor is open with a place for the token.
    assert.match(await textOf(page.locator(".graphiql-editor-tool")), /"Authorization": "Bearer "/);
    await page.screenshot({ path: join(OUTPUT, "explorer-graphiql.png") });
    await page.close();
  });

  test("the token typed after Bearer in the headers editor authenticates the operation", async () => {
    const token = await stack.login("alice@example.com", "alice-password");
    const page = await open(`/graphql?query=${encodeURIComponent("query Me { me { email name } }")}`);
    const headers = page.locator(".graphiql-editor-tool .monaco-editor");
    await headers.locator(".view-line", { hasText: "Authorization" }).click({ timeout: 30_000 });
    await page.keyboard.press("End");
    await page.keyboard.press("ArrowLeft"); // inside the closing quote
    await page.keyboard.insertText(token);
    await page.locator(".graphiql-execute-button").click();
    await page.locator(".graphiql-response", { hasText: "alice@example.com" }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(OUTPUT, "explorer-token.png") });
    await page.close();
  });

  test("the documentation explorer shows the schema", async () => {
    const page = await open("/graphql");
    await page.getByRole("button", { name: "Show Documentation Explorer" }).click({ timeout: 30_000 });
    const docs = page.locator(".graphiql-doc-explorer");
    await docs.getByText("Query", { exact: true }).click({ timeout: 30_000 });
    // Fields of the supergraph's Query type, with their arguments.
    await docs.getByText("products", { exact: true }).first().waitFor({ timeout: 30_000 });
    assert.match(await textOf(docs), /order\b/);
    await page.screenshot({ path: join(OUTPUT, "explorer-docs.png") });
    await page.close();
  });

  test("the REST reference lists every route of the OpenAPI document", async () => {
    const openapi = (await (await fetch(`${stack.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
        .map((m) => ({ method: m.toUpperCase(), path })),
    );
    assert.ok(routes.length >= 10, "the shim describes its routes");
    const page = await open("/api/docs");
    await page.getByText("Shop REST API").first().waitFor({ timeout: 30_000 });
    // Scalar renders a tag's section as it scrolls into view: go through the whole page.
    const seen = new Set<string>();
    for (let y = 0; y < 40; y++) {
      const text = await textOf(page.locator("body"));
      for (const { method, path } of routes) {
        if (new RegExp(`${method}\\s+${path.replace(/[{}]/g, "\\$&")}(\\s|$)`).test(text))
          seen.add(`${method} ${path}`);
      }
      if (seen.size === routes.length) break;
      await page.mouse.wheel(0, 800);
      await page.waitForTimeout(150);
    }
    const missing = routes.map((r) => `${r.method} ${r.path}`).filter((r) => !seen.has(r));
    assert.deepEqual(missing, [], "every route is listed");
    await page.mouse.wheel(0, -100_000);
    await page.screenshot({ path: join(OUTPUT, "rest-docs.png") });
    await page.close();
  });

  test("the status page shows each subgraph, the supergraph version and the operations just run", async () => {
    const ready = (await (await fetch(`${stack.url}/readyz`)).json()) as { supergraph: { version: string } };
    const page = await open("/status");
    await page.locator("body[data-loaded=true]").waitFor({ timeout: 30_000 });
    const subgraphs = await textOf(page.locator("#subgraphs"));
    for (const name of ["users", "products", "orders", "payments"]) {
      assert.match(subgraphs, new RegExp(`${name}\\s+http://127\\.0\\.0\\.1:\\d+/graphql\\s+up`), `${name} is up`);
    }
    assert.match(await textOf(page.locator("#supergraph")), new RegExp(ready.supergraph.version));
    // The explorer's operations, by name, with the subgraphs they reached.
    const traffic = await textOf(page.locator("#traffic"));
    assert.match(traffic, /Catalogue\s+\/graphql\s+\d+/);
    assert.match(traffic, /Me\s+\/graphql\s+\d+/);
    assert.match(traffic, /products\s+\d+/);
    await page.screenshot({ path: join(OUTPUT, "status.png"), fullPage: true });
    await page.close();
  });

  test("no page asked anything of a host other than this machine, and none threw", () => {
    assert.ok(requests.urls.length > 10, "the pages made their requests through the log");
    assert.ok(
      requests.urls.some((u) => u.endsWith("/explorer/graphql.worker.js")),
      "Monaco's GraphQL worker came from the gateway",
    );
    assert.deepEqual(requests.outside, []);
    assert.deepEqual(pageErrors, []);
  });
});

describe("the status data over HTTP", () => {
  let stack: Stack;
  let gateway: Gateway;
  let url: string;
  let deadInstance: string;

  before(async () => {
    stack = await startStack();
    // Products gets a second instance that is not there: the balancer leaves it out once it fails.
    deadInstance = `http://127.0.0.1:${await freePort()}/graphql`;
    gateway = await createGateway(
      loadConfig({
        ...stack.identity.gatewayEnv,
        SUPERGRAPH_PATH: stack.supergraphPath,
        LOG_LEVEL: "silent",
        SUBGRAPH_URLS: `products=${stack.subgraphUrls.products}|${deadInstance}`,
        // Every request must reach the subgraphs here: the response cache would answer repeats itself.
        RESPONSE_CACHE: "false",
        // One refused fetch takes the dead instance out of rotation within these few requests.
        SUBGRAPH_CIRCUIT_FAILURES: "1",
      }),
      { logger: silent },
    );
    url = await gateway.listen(0);
  });

  after(async () => {
    await gateway?.close();
    await stack?.close();
  });

  test("instances with their health and place in the balancer, and recent traffic per operation and subgraph", async () => {
    const query = JSON.stringify({ query: "query Few { products(first: 2) { nodes { id } } }" });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: query,
      });
      assert.equal(res.status, 200);
    }
    const refused = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer not-a-token" },
      body: query,
    });
    assert.equal(refused.status, 401);
    const res = await fetch(`${url}/status.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const status = (await res.json()) as {
      supergraph: { version: string; subgraphs: string[] };
      subgraphs: { name: string; instances: { url: string; inRotation: boolean | null; health: string }[] }[];
      traffic: {
        total: { requests: number; errors: number };
        operations: {
          operation: string;
          route: string;
          requests: number;
          errors: number;
          codes: Record<string, number>;
        }[];
        subgraphs: { subgraph: string; requests: number; errors: number }[];
      };
    };
    assert.equal(status.supergraph.version, gateway.supergraph.state!.version);
    assert.deepEqual([...status.supergraph.subgraphs].sort(), ["orders", "payments", "products", "users"]);
    const products = status.subgraphs.find((s) => s.name === "products")!;
    assert.deepEqual(
      products.instances.map((i) => [i.url, i.health, i.inRotation]),
      [
        [stack.subgraphUrls.products, "up", true],
        [deadInstance, "down", false],
      ],
    );
    const users = status.subgraphs.find((s) => s.name === "users")!;
    // A single instance has a pool and a circuit too.
    assert.deepEqual(
      users.instances.map((i) => [i.health, i.inRotation]),
      [["up", true]],
    );
    const few = status.traffic.operations.find((o) => o.operation === "Few");
    assert.deepEqual(few && [few.route, few.requests, few.errors], ["/graphql", 3, 0]);
    const unknown = status.traffic.operations.find((o) => o.operation === "unknown");
    assert.deepEqual(unknown && [unknown.requests, unknown.errors, unknown.codes], [1, 1, { UNAUTHENTICATED: 1 }]);
    // Three products fetches answered, whichever instance was tried first.
    const productFetches = status.traffic.subgraphs.find((s) => s.subgraph === "products");
    assert.ok(productFetches && productFetches.requests >= 3, "products fetches are counted");
  });

  test("a browser's GET /graphql gets the explorer; API clients still get GraphQL over HTTP", async () => {
    const page = await get(`${url}/graphql`, BROWSER_ACCEPT);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.match(html, /src="\/explorer\/graphiql\.js"/);
    assert.doesNotMatch(html, /https?:\/\//, "the page names no other host");
    // Bundles go out Brotli-compressed to browsers that take it, as they are to the others.
    const script = await fetch(`${url}/explorer/graphiql.js`, { headers: { "accept-encoding": "gzip, br" } });
    assert.equal(script.status, 200);
    assert.equal(script.headers.get("content-encoding"), "br");
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    const plain = await fetch(`${url}/explorer/graphiql.js`, { headers: { "accept-encoding": "identity" } });
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal((await script.text()).length, (await plain.text()).length);
    assert.equal((await fetch(`${url}/explorer/graphiql.js.br`)).status, 404);
    const api = await fetch(`${url}/graphql?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "application/json", "apollo-require-preflight": "true" },
    });
    assert.equal(api.status, 200);
    assert.deepEqual(await api.json(), { data: { __typename: "Query" } });
  });
});

describe("in production", () => {
  let stack: Stack;
  let gateway: Gateway;
  let url: string;

  before(async () => {
    stack = await startStack();
    gateway = await createGateway(
      loadConfig({
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        ...stack.identity.gatewayEnv,
        SUPERGRAPH_PATH: stack.supergraphPath,
        LOG_LEVEL: "silent",
      }),
      { logger: silent },
    );
    url = await gateway.listen(0);
  });

  after(async () => {
    await gateway?.close();
    await stack?.close();
  });

  test("a browser opening /graphql gets a JSON 404 NOT_FOUND, not an explorer nor a CSRF stack trace", async () => {
    const res = await get(`${url}/graphql`, BROWSER_ACCEPT);
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
    assert.equal(body.errors[0]!.extensions.code, "NOT_FOUND");
    assert.doesNotMatch(JSON.stringify(body), /stacktrace|at /);
  });

  test("the REST reference, the status page and the explorer's assets are 404 NOT_FOUND in the REST error shape", async () => {
    for (const path of ["/api/docs", "/status", "/status.json", "/explorer/graphiql.js", "/explorer/status.js"]) {
      const res = await get(`${url}${path}`, BROWSER_ACCEPT);
      assert.equal(res.status, 404, path);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "NOT_FOUND", path);
    }
  });

  test("GraphQL itself is served as before", async () => {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ products(first: 1) { totalCount } }" }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { products: { totalCount: number } } };
    assert.ok(body.data.products.totalCount > 0);
  });
});
