// The HTML shells of the explorer, the REST reference and the status page.
import { createHash } from "node:crypto";

/** JSON safe to put inside a `<script type="application/json">` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ExplorerPageSettings {
  /** Where operations are posted. */
  endpoint: string;
  /** Base URL of the bundle (scripts, styles, workers). */
  workersUrl: string;
  defaultQuery: string;
  defaultHeaders: string;
  /** A query from the page's own `?query=`, put in the editor (not run). */
  initialQuery?: string;
}

export function explorerPage(settings: ExplorerPageSettings, assets: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>GraphQL explorer</title>
<link rel="stylesheet" href="${escapeHtml(assets)}graphiql.css">
<style>html, body, #explorer { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="explorer"></div>
<script id="explorer-settings" type="application/json">${scriptJson(settings)}</script>
<script type="module" src="${escapeHtml(assets)}graphiql.js"></script>
</body>
</html>
`;
}

const DOCS_INIT =
  'Scalar.createApiReference("#app", JSON.parse(document.getElementById("docs-settings").textContent));';

/**
 * What the pages may load: their own origin only, so even a library default that reaches for a
 * CDN, a font host or a proxy is stopped by the browser. Scalar and GraphiQL set inline styles;
 * the one inline script (Scalar's start) is allowed by its hash.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash("sha256").update(DOCS_INIT).digest("base64")}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

export function docsPage(openApiUrl: string, scriptUrl: string): string {
  // Scalar's defaults reach out to its own services (fonts, a request proxy, its client): all off.
  const configuration = {
    url: openApiUrl,
    withDefaultFonts: false,
    hideClientButton: true,
    showDeveloperTools: "never",
    hideDarkModeToggle: false,
    telemetry: false,
    agent: { disabled: true },
    mcp: { disabled: true },
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>REST API reference</title>
<style>body { margin: 0; font-family: system-ui, sans-serif; }</style>
</head>
<body>
<div id="app"></div>
<script id="docs-settings" type="application/json">${scriptJson(configuration)}</script>
<script src="${escapeHtml(scriptUrl)}"></script>
<script>${DOCS_INIT}</script>
</body>
</html>
`;
}

export function statusPage(dataUrl: string, scriptUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Gateway status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
table { border-collapse: collapse; min-width: 40rem; }
th, td { text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #dde1e8; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.up { color: #137333; } .down { color: #b3261e; } .unknown { color: #8a6d00; }
.muted { color: #6b7280; } nav a { margin-right: 1rem; }
</style>
</head>
<body>
<nav><a href="/graphql">GraphQL explorer</a><a href="/api/docs">REST reference</a><a href="/metrics">Metrics</a></nav>
<h1>Gateway status</h1>
<p id="updated" class="muted">loading…</p>
<h2>Supergraph</h2><div id="supergraph"></div>
<h2>Subgraphs</h2><div id="subgraphs"></div>
<h2>Recent traffic</h2><div id="traffic"></div>
<script id="status-settings" type="application/json">${scriptJson({ dataUrl })}</script>
<script src="${escapeHtml(scriptUrl)}"></script>
</body>
</html>
`;
}
