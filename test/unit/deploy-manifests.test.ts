import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

// The manifests under deploy/k8s are checked against the code they run: every environment variable a
// container is given must be read by the modules its entry point loads, every probe path must be a
// route those modules serve, and every port must be the one the process is told to listen on.

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const deployRoot = join(root, "deploy/k8s");

/**
 * Variables the public contract names whose readers are not in the code yet. A manifest may set them;
 * once the code reads one, the last test below fails until it is removed from here.
 */
const AWAITED = new Set<string>([]);

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of every resource kind; the assertions are the type checks
type Doc = Record<string, any>;

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}

function parseDocs(text: string, source: string): Doc[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Doc | null;
    return value && typeof value.kind === "string" ? [value] : [];
  });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => /\.ya?ml$/.test(path))
    .map((path) => join(dir, path));
}

/** Every resource and patch in deploy/k8s (kustomization files themselves excluded). */
const fileDocs = yamlFiles(deployRoot)
  .filter((file) => !/kustomization\.ya?ml$/.test(file))
  .flatMap((file) => parseDocs(readFileSync(file, "utf8"), relative(root, file)));

// ---- what the code reads and serves, found from each entry point's imports -------------------------

interface SourceGraph {
  files: Set<string>;
  /** Packages imported for their values (type-only imports are erased and do not count). */
  packages: Set<string>;
}

const graphs = new Map<string, SourceGraph>();

/** The modules an entry point loads, following relative imports, and the packages they import. */
function sourceGraph(entry: string): SourceGraph {
  const cached = graphs.get(entry);
  if (cached) return cached;
  const graph: SourceGraph = { files: new Set(), packages: new Set() };
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (graph.files.has(file)) continue;
    graph.files.add(file);
    const text = readFileSync(file, "utf8");
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm),
      ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ].map((match) => match[1]!);
    for (const specifier of specifiers) {
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier).replace(/\.js$/, ".ts");
        if (existsSync(target)) pending.push(target);
        else assert.fail(`${relative(root, file)} imports ${specifier}, which does not exist`);
      } else if (!specifier.startsWith("node:")) {
        const parts = specifier.split("/");
        graph.packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
  }
  graphs.set(entry, graph);
  return graph;
}

const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/**
 * Names the modules can read from the environment: upper-case names used as a property
 * (`env.PORT`, `process.env.HOST`) or as a string (`str(env, "REDIS_URL")`). A superset of what is
 * read, but a name that appears nowhere is read by nobody.
 */
function envNamesRead(graph: SourceGraph): Set<string> {
  const names = new Set<string>();
  for (const file of graph.files) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/\.([A-Z][A-Z0-9_]*)\b|["'`]([A-Z][A-Z0-9_]*)["'`]/g)) {
      const name = match[1] ?? match[2]!;
      if (ENV_NAME.test(name)) names.add(name);
    }
  }
  return names;
}

/** Paths the modules register as GET routes. */
function routesServed(graph: SourceGraph): Set<string> {
  const routes = new Set<string>();
  for (const file of graph.files) {
    for (const match of readFileSync(file, "utf8").matchAll(/\.get\(\s*["'](\/[^"']*)["']/g)) routes.add(match[1]!);
  }
  return routes;
}

// ---- the manifests' side ------------------------------------------------------------------------------

function podSpecs(docs: Doc[]): { workload: Doc; spec: Doc }[] {
  return docs
    .filter((doc) => ["Deployment", "StatefulSet", "DaemonSet"].includes(doc.kind) && doc.spec?.template?.spec)
    .map((workload) => ({ workload, spec: workload.spec.template.spec }));
}

function containersOf(docs: Doc[]): { workload: Doc; container: Container }[] {
  return podSpecs(docs).flatMap(({ workload, spec }) =>
    [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((container: Container) => ({
      workload,
      container,
    })),
  );
}

/** The TypeScript entry a container runs (`node dist/x/index.js` runs what `x/index.ts` is compiled to). */
function entryOf(container: Container): string | null {
  for (const arg of [...(container.command ?? []), ...(container.args ?? [])]) {
    const match = /^(?:\.\/)?dist\/(.+)\.js$/.exec(arg);
    if (match) return join(root, `${match[1]}.ts`);
  }
  return null;
}

/** Entries by container name, so that a patch that changes only a container's env is checked too. */
function entriesByName(docs: Doc[]): Map<string, string> {
  const entries = new Map<string, string>();
  for (const { container } of containersOf(docs)) {
    const entry = entryOf(container);
    if (entry) entries.set(container.name, entry);
  }
  return entries;
}

/** Variable name → literal value (undefined when it comes from a Secret) of a container. */
function environmentOf(container: Container, docs: Doc[], where: string): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const source of container.envFrom ?? []) {
    assert.ok(!source.secretRef, `${where}: envFrom a Secret hides which variables it sets; name them in env`);
    const name = source.configMapRef?.name;
    const configMap = docs.find((doc) => doc.kind === "ConfigMap" && doc.metadata?.name === name);
    assert.ok(configMap, `${where}: envFrom names the ConfigMap ${name}, which is not in the manifests`);
    for (const [key, value] of Object.entries(configMap.data ?? {})) env.set(key, String(value));
  }
  for (const variable of container.env ?? []) env.set(variable.name, variable.value);
  return env;
}

function checkContainers(docs: Doc[]) {
  const entries = entriesByName(docs);
  const services = docs.filter((doc) => doc.kind === "Service" && doc.spec?.type !== "ExternalName");
  let checked = 0;
  for (const { workload, container } of containersOf(docs)) {
    const where = `${workload.kind} ${workload.metadata?.name}, container ${container.name}`;
    if (container.image !== undefined) {
      assert.ok(entryOf(container), `${where}: the command must name the entry it runs (node dist/<path>.js)`);
    }
    const entry = entryOf(container) ?? entries.get(container.name);
    assert.ok(entry, `${where}: no container of that name says what it runs`);
    assert.ok(existsSync(entry), `${where}: runs ${relative(root, entry)}, which does not exist`);
    const graph = sourceGraph(entry);
    const read = envNamesRead(graph);
    const env = environmentOf(container, docs, where);

    for (const name of env.keys()) {
      assert.ok(
        read.has(name) || AWAITED.has(name),
        `${where}: sets ${name}, which ${relative(root, entry)} never reads`,
      );
    }

    if (container.ports?.length) {
      assert.ok(read.has("PORT"), `${where}: ${relative(root, entry)} does not read PORT`);
      const port = env.get("PORT");
      assert.ok(port, `${where}: exposes a port but does not set PORT, so the process listens on its default`);
      for (const { containerPort, name } of container.ports) {
        // A port named `metrics` is the gateway's separate /metrics listener (METRICS_PORT).
        const variable = name === "metrics" ? "METRICS_PORT" : "PORT";
        const expected = env.get(variable);
        assert.ok(read.has(variable), `${where}: ${relative(root, entry)} does not read ${variable}`);
        assert.equal(
          containerPort,
          Number(expected),
          `${where}: port ${name ?? containerPort} is not ${variable} (${expected})`,
        );
      }
    }

    const served = routesServed(graph);
    for (const [kind, probe] of [
      ["livenessProbe", container.livenessProbe],
      ["readinessProbe", container.readinessProbe],
      ["startupProbe", container.startupProbe],
    ] as const) {
      const get = probe?.httpGet;
      if (!get) continue;
      assert.ok(served.has(get.path), `${where}: ${kind} asks ${get.path}, which the process does not serve`);
      assert.ok(
        (container.ports ?? []).some((p) => p.name === get.port || p.containerPort === get.port),
        `${where}: ${kind} probes port ${get.port}, which the container does not declare`,
      );
    }
    // The contract: liveness is /healthz, readiness /readyz wherever the process has one.
    if (container.livenessProbe?.httpGet) assert.equal(container.livenessProbe.httpGet.path, "/healthz", where);
    if (container.readinessProbe?.httpGet && served.has("/readyz")) {
      assert.equal(container.readinessProbe.httpGet.path, "/readyz", where);
    }

    // A URL that names a Service of the manifests must use one of its ports.
    for (const value of env.values()) {
      for (const [href] of (value ?? "").matchAll(/https?:\/\/[^\s,|"']+/g)) {
        const url = new URL(href);
        const service = services.find((s) => s.metadata?.name === url.hostname);
        if (!service) continue;
        const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
        assert.ok(
          (service.spec.ports ?? []).some((p: Doc) => p.port === port),
          `${where}: ${href} uses port ${port}, which Service ${url.hostname} does not have`,
        );
      }
    }
    checked++;
  }
  return checked;
}

/** Each Service selects pods of the manifests, on a port their containers declare; Ingress backends exist. */
function checkServices(docs: Doc[]) {
  const pods = podSpecs(docs).filter(({ spec }) => spec.containers?.some((c: Container) => c.image !== undefined));
  for (const service of docs.filter((doc) => doc.kind === "Service" && doc.spec?.selector)) {
    const name = service.metadata.name;
    const selected = pods.filter(({ workload }) =>
      Object.entries(service.spec.selector).every(([k, v]) => workload.spec.template.metadata?.labels?.[k] === v),
    );
    assert.ok(selected.length > 0, `Service ${name} selects no pods of the manifests`);
    for (const port of service.spec.ports) {
      for (const { spec } of selected) {
        const declared = spec.containers.flatMap((c: Container) => c.ports ?? []);
        assert.ok(
          declared.some((p: Doc) => p.name === port.targetPort || p.containerPort === port.targetPort),
          `Service ${name}: targetPort ${port.targetPort} is not a container port of the pods it selects`,
        );
      }
    }
  }
  for (const ingress of docs.filter((doc) => doc.kind === "Ingress")) {
    for (const rule of ingress.spec.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const backend = path.backend.service;
        const service = docs.find((doc) => doc.kind === "Service" && doc.metadata?.name === backend.name);
        assert.ok(service, `Ingress ${ingress.metadata.name}: no Service ${backend.name}`);
        assert.ok(
          service.spec.ports.some((p: Doc) => p.name === backend.port.name || p.port === backend.port.number),
          `Ingress ${ingress.metadata.name}: Service ${backend.name} has no port ${backend.port.name ?? backend.port.number}`,
        );
      }
    }
  }
}

describe("deploy/k8s manifests", () => {
  it("give every container only variables, ports and probe paths its code reads and serves", () => {
    assert.ok(checkContainers(fileDocs) >= 5, "expected the gateway and the four subgraphs");
  });

  it("route every Service and Ingress to a declared container port", () => {
    checkServices(fileDocs);
  });

  it("run the gateway and every subgraph of the supergraph, and route the gateway to each", () => {
    const supergraph = readFileSync(join(root, "schema/supergraph.graphql"), "utf8");
    const subgraphs = [...supergraph.matchAll(/@join__graph\(name: "([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(subgraphs.length >= 4);
    const running = new Set([...entriesByName(fileDocs).values()].map((entry) => relative(root, entry)));
    assert.ok(running.has("gateway/index.ts"), "no gateway Deployment");
    const gatewayEnv = containersOf(fileDocs)
      .filter(({ container }) => entryOf(container)?.endsWith("gateway/index.ts"))
      .map(({ container, workload }) => environmentOf(container, fileDocs, workload.metadata.name))[0]!;
    const routed = new Set(
      (gatewayEnv.get("SUBGRAPH_URLS") ?? "").split(",").map((entry) => entry.split("=")[0]!.trim()),
    );
    for (const name of subgraphs) {
      assert.ok(running.has(`subgraphs/${name}/index.ts`), `no Deployment runs the ${name} subgraph`);
      assert.ok(routed.has(name), `SUBGRAPH_URLS does not route ${name} to its Service`);
    }
  });

  it("serve the committed supergraph from the ConfigMap", () => {
    assert.equal(
      readFileSync(join(deployRoot, "base/supergraph.graphql"), "utf8"),
      readFileSync(join(root, "schema/supergraph.graphql"), "utf8"),
      "deploy/k8s/base/supergraph.graphql is stale: copy schema/supergraph.graphql over it",
    );
  });

  it("the production overlay has no payment-provider sandbox", () => {
    const production = join(deployRoot, "overlays/production");
    const kustomization = readFileSync(join(production, "kustomization.yaml"), "utf8");
    assert.doesNotMatch(kustomization, /sandbox/);
    for (const file of yamlFiles(production)) assert.doesNotMatch(readFileSync(file, "utf8"), /sandbox/, file);
  });

  it("import no devDependency from any process the image runs", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const production = new Set(Object.keys(pkg.dependencies ?? {}));
    for (const entry of new Set(entriesByName(fileDocs).values())) {
      for (const name of sourceGraph(entry).packages) {
        assert.ok(production.has(name), `${relative(root, entry)} imports ${name}, not a production dependency`);
      }
    }
  });

  const kubectl = (() => {
    try {
      execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  for (const overlay of ["base", "overlays/production", "overlays/staging"]) {
    it(`render (kubectl kustomize ${overlay}) to the same checks`, { skip: !kubectl && "kubectl not found" }, () => {
      const rendered = execFileSync("kubectl", ["kustomize", join(deployRoot, overlay)], { encoding: "utf8" });
      const docs = parseDocs(rendered, overlay);
      assert.ok(checkContainers(docs) >= 5);
      checkServices(docs);
      const gateway = docs.find((doc) => doc.kind === "Deployment" && doc.metadata.name === "gateway")!;
      const drainSeconds = 10; // the gateway's own deadline for closing (gateway/index.ts)
      const preStopSeconds = Number(
        gateway.spec.template.spec.containers[0].lifecycle?.preStop?.exec?.command?.at(-1) ?? 0,
      );
      assert.ok(gateway.spec.template.spec.terminationGracePeriodSeconds > preStopSeconds + drainSeconds);
      for (const kind of ["HorizontalPodAutoscaler", "PodDisruptionBudget"]) {
        assert.ok(
          docs.some((doc) => doc.kind === kind && (doc.spec.scaleTargetRef?.name ?? "gateway") === "gateway"),
          `${overlay}: no ${kind} for the gateway`,
        );
      }
    });
  }

  it("lists as awaited only variables no code reads yet", () => {
    const everywhere = new Set(
      [...new Set(entriesByName(fileDocs).values())].flatMap((entry) => [...envNamesRead(sourceGraph(entry))]),
    );
    for (const name of AWAITED) {
      assert.ok(
        !everywhere.has(name),
        `${name} is read now: drop it from AWAITED in ${relative(root, fileURLToPath(import.meta.url))}`,
      );
    }
  });
});
