// The status page: reads the gateway's status JSON every few seconds and renders it as tables.
const { dataUrl } = JSON.parse(document.getElementById("status-settings").textContent);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function table(headings, rows) {
  const numeric = headings.map((h) => h.endsWith("#"));
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h.replace(/#$/, ""))))),
    el(
      "tbody",
      {},
      ...rows.map((row) =>
        el(
          "tr",
          {},
          ...row.map((cell, i) =>
            cell instanceof Node ? el("td", {}, cell) : el("td", numeric[i] ? { class: "n" } : {}, cell),
          ),
        ),
      ),
    ),
  );
}

function render(status) {
  const supergraph = status.supergraph;
  document
    .getElementById("supergraph")
    .replaceChildren(
      supergraph
        ? table(
            ["version", "loaded at", "reloads#", "refused files#", "subgraphs"],
            [
              [
                supergraph.version,
                supergraph.loadedAt,
                supergraph.reloads,
                supergraph.refusals,
                supergraph.subgraphs.join(", "),
              ],
            ],
          )
        : el("p", { class: "down" }, "no supergraph loaded"),
    );
  const rows = [];
  for (const subgraph of status.subgraphs) {
    for (const instance of subgraph.instances) {
      const rotation =
        instance.inRotation === null ? "single instance" : instance.inRotation ? "in rotation" : "left out";
      rows.push([
        subgraph.name,
        instance.url,
        el("span", { class: instance.health }, instance.health),
        instance.detail,
        `${instance.latencyMs} ms`,
        rotation,
      ]);
    }
  }
  document
    .getElementById("subgraphs")
    .replaceChildren(table(["subgraph", "instance", "health", "probe", "latency", "balancer"], rows));
  const traffic = status.traffic;
  const minutes = traffic.windowSeconds / 60;
  document.getElementById("traffic").replaceChildren(
    el("p", {}, `Last ${minutes} minutes: ${traffic.total.requests} operations, ${traffic.total.errors} with errors.`),
    el("h3", {}, "By operation"),
    traffic.operations.length
      ? table(
          ["operation", "route", "requests#", "errors#", "codes"],
          traffic.operations.map((o) => [
            o.operation,
            o.route,
            o.requests,
            o.errors,
            Object.entries(o.codes)
              .map(([c, n]) => `${c} ×${n}`)
              .join(", "),
          ]),
        )
      : el("p", { class: "muted" }, "no operations yet"),
    el("h3", {}, "By subgraph"),
    traffic.subgraphs.length
      ? table(
          ["subgraph", "fetches#", "errors#"],
          traffic.subgraphs.map((s) => [s.subgraph, s.requests, s.errors]),
        )
      : el("p", { class: "muted" }, "no subgraph fetches yet"),
  );
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  document.body.dataset.loaded = "true";
}

async function refresh() {
  try {
    const response = await fetch(dataUrl, { headers: { accept: "application/json" } });
    render(await response.json());
  } catch (error) {
    document.getElementById("updated").textContent = `status unavailable: ${error}`;
  }
}

refresh();
setInterval(refresh, 5000);
