// Browser entry of the GraphQL explorer: GraphiQL with Monaco's workers served by the gateway itself.
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";

const root = document.getElementById("explorer");
const settings = JSON.parse(document.getElementById("explorer-settings")?.textContent ?? "{}");
const workers = settings.workersUrl ?? "./explorer/";

// Monaco asks for a worker per language; each is its own bundle next to this one, so nothing is
// loaded from anywhere but the gateway.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const name = label === "json" ? "json.worker.js" : label === "graphql" ? "graphql.worker.js" : "editor.worker.js";
    return new Worker(new URL(name, new URL(workers, location.href)), { name: label });
  },
};

/** Posts the operation to the endpoint with the headers of the headers editor (the bearer token). */
async function fetcher(params, options) {
  const headers = { ...options?.headers };
  // The prefilled "Bearer " line without a token means anonymous, not an invalid token (a 401).
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === "authorization" && /^\s*bearer\s*$/i.test(String(headers[name]))) delete headers[name];
  }
  const response = await fetch(settings.endpoint ?? location.pathname, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 200)}` }] };
  }
}

createRoot(root).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: settings.defaultQuery,
    ...(settings.initialQuery && { initialQuery: settings.initialQuery }),
    defaultHeaders: settings.defaultHeaders,
    defaultEditorToolsVisibility: "headers",
    // A token typed into the headers editor stays in this tab unless the user opts in.
    shouldPersistHeaders: false,
  }),
);
