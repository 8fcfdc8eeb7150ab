/**
 * `npm run bench`: this gateway (production mode, every default on) side by side with the bare
 * `@apollo/gateway` and with the subgraph called directly, in one run. Prints requests/s, p50/p99,
 * CPU per request, peak RSS, start-up time and the ratios, and writes bench/RESULTS.md.
 *
 * Processes, all on 127.0.0.1 and port 0: the four subgraphs in one process over fixed in-memory
 * data (bench/fixtures/subgraphs.ts); this gateway from `gateway/index.ts`; the bare gateway
 * (bench/fixtures/bare-gateway.ts); the load (autocannon) in this process. Rounds alternate their
 * order (A B C, C B A, …) so that drift on a shared machine falls on every target alike. Only
 * responses identical to a body verified before the run count.
 *
 * Environment (all optional):
 * - BENCH_SECONDS: whole seconds per round and target. @default 4
 * - BENCH_ROUNDS: alternating rounds. @default 3
 * - BENCH_CONNECTIONS: concurrent connections. @default 20
 * - BENCH_ONLY: comma-separated groups to run (federated, me, product, mutation). @default all
 * - BENCH_GATEWAY_ENV: JSON object of extra environment for this gateway (to compare a setting). @default none
 * - BENCH_PROFILE: a directory; this gateway runs with `--cpu-prof` there, and the profile is
 *   summarised per operation over the measured rounds only (bench/profile-summary.ts). @default off
 * - BENCH_RESULTS: where the Markdown results go. @default bench/RESULTS.md
 */
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import {
  algorithmOf,
  GATEWAY_ISSUER,
  generateIdentityKeyPair,
  identityAudience,
  parsePrivateKey,
} from "../common/index.ts";
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from "../gateway/config.ts";
import { runtimeFor } from "../scripts/lib/entry.ts";
import { ADMIN_ID, CUSTOMER_ID } from "./fixtures/data.ts";
import { fetchOnce, type HttpRequest, load } from "./harness/load.ts";
import { machineBusyMs } from "./harness/machine.ts";
import {
  type Child,
  cpuMs,
  peakRssMb,
  ROOT,
  startBareGateway,
  startGateway,
  startWithFirstLine,
} from "./harness/processes.ts";
import { formatSummary, type ProfileWindow, readProfile, summarise } from "./profile-summary.ts";

const started = performance.now();

// This gateway is measured as production runs it, compiled: build first when a source changed.
if (!runtimeFor(ROOT).compiled) {
  console.log("bench: sources changed since the last build; npm run build first");
  execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
}

const NOTES = `## How to read this

- **Targets.** *This gateway*: \`gateway/index.ts\`, compiled as production runs it (\`dist/\`), with \`NODE_ENV=production\` and nothing but the
  required \`IDENTITY_PRIVATE_KEY\` set, so every default is on: JWT verification against the users
  subgraph's JWKS (ES256), authorization from the supergraph's \`@authenticated\`/\`@requiresScopes\`,
  the operation guards (shape limits, cost, \`@rateLimit\`, throttle, blocking), the request log (to a
  file) and metrics. *Bare @apollo/gateway*: \`ApolloServer\` + \`ApolloGateway\` with their defaults
  (standalone server, default subgraph fetcher); it authenticates nobody and only passes the
  caller's \`x-identity-token\`, signed once by the benchmark, on to the subgraphs. *Subgraph direct*:
  the same request sent to the subgraph itself, with that identity token.
- **Subgraphs.** One process (bench/fixtures/subgraphs.ts), the repository's \`schema.graphql\` files
  with resolvers over fixed arrays (bench/fixtures/data.ts). The federated query reads the signed-in
  customer's 18 orders × 5 lines: users → orders → products and payments (4 fetches, about 16 KB).
- **Counting.** Only answers byte-identical to the one verified before the run (HTTP 200, no
  \`errors\`, no nulls, the same data from every target) count; anything else is a wrong answer.
  req/s = right answers / seconds. p50/p99 are autocannon's, averaged over rounds.
  CPU ms/req = utime + stime of the target process (/proc/PID/stat) over the rounds / right answers
  (this gateway runs as one process, \`GATEWAY_WORKERS=1\`, like the bare one);
  for "subgraph direct" that process is the subgraphs'. Peak RSS is VmHWM over the whole run.
- **Noise.** Load, gateways and subgraphs share the machine; rounds alternate their order so drift
  falls on every target alike. CPU per request is the steadiest figure; compare within one run.
`;

function setting(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    console.error(`${name} must be a positive ${integer ? "integer" : "number"}, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const GROUPS = ["federated", "me", "product", "mutation"] as const;
type Group = (typeof GROUPS)[number];

const settings = {
  seconds: setting("BENCH_SECONDS", 4, true),
  rounds: setting("BENCH_ROUNDS", 3, true),
  connections: setting("BENCH_CONNECTIONS", 20, true),
  /**
   * Before the rounds, each gateway runs each operation this long (JIT, plan caches, connection
   * pools); the subgraphs are warm from serving the gateways.
   */
  warmupSeconds: 1,
  only: (process.env.BENCH_ONLY?.split(",")
    .map((g) => g.trim())
    .filter(Boolean) ?? [...GROUPS]) as Group[],
  gatewayEnv: JSON.parse(process.env.BENCH_GATEWAY_ENV || "{}") as Record<string, string>,
  profileDir: process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : null,
  resultsPath: resolve(process.env.BENCH_RESULTS ?? join(ROOT, "bench/RESULTS.md")),
};
for (const group of settings.only) {
  if (!GROUPS.includes(group)) {
    console.error(`BENCH_ONLY: unknown group "${group}" (known: ${GROUPS.join(", ")})`);
    process.exit(2);
  }
}

type Target = "gateway" | "bare" | "direct";
const TARGET_LABEL: Record<Target, string> = {
  gateway: "this gateway",
  bare: "bare @apollo/gateway",
  direct: "subgraph direct",
};

interface Cell {
  group: Group;
  op: string;
  target: Target;
  baseUrl: string;
  request: HttpRequest;
  /** Whose CPU is this cell's "CPU per request": the gateway's, or the subgraphs' when called directly. */
  pid: number;
  expected: string;
  ok: number;
  bad: number;
  badExample: string | undefined;
  seconds: number;
  cpuMs: number;
  subgraphCpuMs: number;
  p50: number[];
  p99: number[];
  /** Per round: right answers per second and CPU per right answer, to show the spread. */
  roundRps: number[];
  roundCpu: number[];
}

const OPERATIONS = {
  federated: `query Federated { me { id name orders { id status totalCents currency createdAt items { quantity unitPriceCents product { id name priceCents currency stock } } payment { id status amountCents currency } } } }`,
  me: `query Me { me { id name } }`,
  // The REST shim's own operation for GET /api/products/:id, so REST and GraphQL do the same work.
  product: `query GetProduct($id: ID!) { product(id: $id) { id name priceCents currency stock } }`,
  // Sets the stock to what it is: the same answer every time, and the data never runs out.
  mutation: `mutation UpdateStock($id: ID!, $stock: Int!) { updateProduct(id: $id, input: { stock: $stock }) { id name priceCents currency stock } }`,
};
const PRODUCT_ID = "prod-001";
const MUTATED = { id: "prod-100", stock: 1099 };
const CUSTOMER_SCOPE = "profile orders:read orders:write payments:read payments:write";
const ADMIN_SCOPE = `admin ${CUSTOMER_SCOPE} catalog:write`;

const graphql = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
  ({
    method: "POST",
    path: "/graphql",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  }) satisfies HttpRequest;

function compose(urls: Record<string, string>): string {
  const result = composeServices(
    Object.entries(urls).map(([name, url]) => ({
      name,
      url,
      typeDefs: parse(readFileSync(join(ROOT, "subgraphs", name, "schema.graphql"), "utf8")),
    })),
  );
  if (result.errors) throw new Error(`composition failed: ${result.errors.map((e) => e.message).join("; ")}`);
  return result.supergraphSdl;
}

/** Every value of a verified answer is present: a null would mean a field the benchmark does not measure. */
function assertComplete(value: unknown, path: string): void {
  if (value === null || value === undefined) throw new Error(`null at ${path}`);
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error(`empty list at ${path}`);
    for (const [i, item] of value.entries()) assertComplete(item, `${path}.${i}`);
  } else if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) assertComplete(item, `${path}.${key}`);
  }
}

/** Fetches a cell's answer twice, checks it, and returns the body every response must equal. */
async function verify(cell: Cell): Promise<{ body: string; payload: unknown }> {
  const name = `${cell.op} @ ${TARGET_LABEL[cell.target]}`;
  const first = await fetchOnce(cell.baseUrl, cell.request);
  const second = await fetchOnce(cell.baseUrl, cell.request);
  if (first.status !== 200) throw new Error(`${name}: HTTP ${first.status}: ${first.body.slice(0, 500)}`);
  if (first.body !== second.body) throw new Error(`${name}: two answers differ, nothing to compare against`);
  const parsed = JSON.parse(first.body) as { data?: unknown; errors?: unknown };
  if (cell.request.path === "/graphql") {
    if (parsed.errors !== undefined) throw new Error(`${name}: errors: ${JSON.stringify(parsed.errors)}`);
    assertComplete(parsed.data, "data");
    return { body: first.body, payload: parsed.data };
  }
  assertComplete(parsed, "body");
  return { body: first.body, payload: parsed };
}

const range = (list: number[], digits: number) =>
  `${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)}`;

const samplesOf = (cell: Cell) => ({
  rps: cell.ok / cell.seconds,
  cpu: cell.cpuMs / Math.max(1, cell.ok),
  subgraphCpu: cell.subgraphCpuMs / Math.max(1, cell.ok),
  p50: cell.p50.reduce((a, b) => a + b, 0) / Math.max(1, cell.p50.length),
  p99: cell.p99.reduce((a, b) => a + b, 0) / Math.max(1, cell.p99.length),
});

const dir = mkdtempSync(join(tmpdir(), "shop-bench-"));
const children: Child[] = [];
const lines: string[] = [];
const out = (line = "") => {
  console.log(line);
  lines.push(line);
};

// Ctrl-C: stop every child first (they also stop by themselves when this process goes).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    Promise.all(children.map((child) => child.stop())).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

try {
  const identityKeys = generateIdentityKeyPair();
  const identityKey = parsePrivateKey(identityKeys.privateKey);
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = "bench-key-1";
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] });
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "production" };

  const subgraphs = await startWithFirstLine("subgraphs", ["--import", "tsx", "bench/fixtures/subgraphs.ts"], {
    ...base,
    IDENTITY_PUBLIC_KEYS: JSON.stringify({ [GATEWAY_ISSUER]: identityKeys.publicKey }),
    BENCH_JWKS: jwks,
  });
  children.push(subgraphs.child);
  const subgraphUrls = JSON.parse(subgraphs.line) as Record<"users" | "products" | "orders" | "payments", string>;
  const supergraphPath = join(dir, "supergraph.graphql");
  writeFileSync(supergraphPath, compose(subgraphUrls));

  // One after the other, so that neither start-up competes with the other for the CPU.
  if (settings.profileDir) mkdirSync(settings.profileDir, { recursive: true });
  const gateway = await startGateway({
    supergraphPath,
    dir,
    // One process, as the bare gateway is: CPU and RSS are read off that process (production's
    // default runs a worker per core; BENCH_GATEWAY_ENV='{"GATEWAY_WORKERS":"2"}' compares that).
    env: { ...base, IDENTITY_PRIVATE_KEY: identityKeys.privateKey, GATEWAY_WORKERS: "1", ...settings.gatewayEnv },
    nodeOptions: settings.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${settings.profileDir}`] : [],
  });
  children.push(gateway.child);
  const bare = await startBareGateway({ supergraphPath, env: base });
  children.push(bare.child);

  // Client tokens as the users service issues them (ES256, key id, in the JWKS the gateway reads),
  // and the identity tokens a gateway signs for the subgraphs (for the bare gateway and direct calls).
  const clientToken = (sub: string, scope: string) =>
    new SignJWT({ scope })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setSubject(sub)
      .setIssuer(DEFAULT_JWT_ISSUER)
      .setAudience(DEFAULT_JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(privateKey);
  const identityToken = (sub: string, scope: string) =>
    new SignJWT({ scope })
      .setProtectedHeader({ alg: algorithmOf(identityKey), typ: "JWT", kid: GATEWAY_ISSUER })
      .setSubject(sub)
      .setIssuer(GATEWAY_ISSUER)
      // One token for every subgraph: the bare gateway passes the client's header on unchanged.
      .setAudience(["users", "products", "orders", "payments"].map(identityAudience))
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(identityKey);
  const customer = { authorization: `Bearer ${await clientToken(CUSTOMER_ID, CUSTOMER_SCOPE)}` };
  const admin = { authorization: `Bearer ${await clientToken(ADMIN_ID, ADMIN_SCOPE)}` };
  const customerIdentity = { "x-identity-token": await identityToken(CUSTOMER_ID, CUSTOMER_SCOPE) };
  const adminIdentity = { "x-identity-token": await identityToken(ADMIN_ID, ADMIN_SCOPE) };

  const origin = (url: string) => new URL(url).origin;
  const at = {
    gateway: { baseUrl: gateway.url, pid: gateway.child.pid },
    bare: { baseUrl: bare.url, pid: bare.child.pid },
    users: { baseUrl: origin(subgraphUrls.users), pid: subgraphs.child.pid },
    products: { baseUrl: origin(subgraphUrls.products), pid: subgraphs.child.pid },
  };
  const cell = (group: Group, op: string, target: Target, where: keyof typeof at, request: HttpRequest): Cell => ({
    group,
    op,
    target,
    ...at[where],
    request,
    expected: "",
    ok: 0,
    bad: 0,
    badExample: undefined,
    seconds: 0,
    cpuMs: 0,
    subgraphCpuMs: 0,
    p50: [],
    p99: [],
    roundRps: [],
    roundCpu: [],
  });
  const product = { id: PRODUCT_ID };
  const allCells: Cell[] = [
    cell("federated", "federated (4 fetches)", "gateway", "gateway", graphql(OPERATIONS.federated, {}, customer)),
    cell("federated", "federated (4 fetches)", "bare", "bare", graphql(OPERATIONS.federated, {}, customerIdentity)),
    cell("me", "me { id name } (JWT)", "gateway", "gateway", graphql(OPERATIONS.me, {}, customer)),
    cell("me", "me { id name } (JWT)", "bare", "bare", graphql(OPERATIONS.me, {}, customerIdentity)),
    cell("me", "me { id name } (JWT)", "direct", "users", graphql(OPERATIONS.me, {}, customerIdentity)),
    cell("product", "product (anonymous)", "gateway", "gateway", graphql(OPERATIONS.product, product)),
    cell("product", "product (bearer JWT)", "gateway", "gateway", graphql(OPERATIONS.product, product, customer)),
    cell("product", "product (REST GET /api/products/:id)", "gateway", "gateway", {
      method: "GET",
      path: `/api/products/${PRODUCT_ID}`,
      headers: {},
    }),
    cell("product", "product (anonymous)", "bare", "bare", graphql(OPERATIONS.product, product)),
    cell("product", "product (anonymous)", "direct", "products", graphql(OPERATIONS.product, product)),
    cell("mutation", "updateProduct (admin JWT)", "gateway", "gateway", graphql(OPERATIONS.mutation, MUTATED, admin)),
    cell("mutation", "updateProduct (admin JWT)", "bare", "bare", graphql(OPERATIONS.mutation, MUTATED, adminIdentity)),
    cell(
      "mutation",
      "updateProduct (admin JWT)",
      "direct",
      "products",
      graphql(OPERATIONS.mutation, MUTATED, adminIdentity),
    ),
  ];
  const cells = allCells.filter((c) => settings.only.includes(c.group));

  // Every answer is checked once, and every target must return the same data for an operation.
  const payloads = new Map<string, unknown>();
  for (const c of cells) {
    const { body, payload } = await verify(c);
    c.expected = body;
    const data = c.request.path === "/graphql" ? payload : { product: payload };
    const key = c.request.path === "/graphql" && c.op.startsWith("product") ? "product" : c.op;
    const seen = payloads.get(key);
    if (seen === undefined) payloads.set(key, data);
    else if (!isDeepStrictEqual(seen, data))
      throw new Error(`${c.op} @ ${TARGET_LABEL[c.target]}: other data than the other targets`);
  }

  out(`# Benchmark: this gateway vs bare @apollo/gateway vs the subgraph directly`);
  out();
  out(
    `${settings.seconds} s × ${settings.rounds} alternating rounds per target and operation (after ${settings.warmupSeconds} s of warm-up on each gateway), ${settings.connections} connections, ` +
      `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}`,
  );

  const windows: ProfileWindow[] = [];
  const machineBefore = machineBusyMs();
  const oursBefore = ourCpuMs(children);
  const wallBefore = performance.now();
  const run = async (c: Cell, measured: boolean) => {
    const cpuBefore = cpuMs(c.pid);
    const subgraphsBefore = cpuMs(subgraphs.child.pid);
    const windowStart = performance.now();
    const result = await load(c.baseUrl, c.request, c.expected, {
      seconds: measured ? settings.seconds : settings.warmupSeconds,
      connections: settings.connections,
    });
    if (!measured) return;
    if (c.target === "gateway") {
      windows.push({
        op: c.op,
        startMs: windowStart - gateway.child.spawnedAt,
        endMs: performance.now() - gateway.child.spawnedAt,
      });
    }
    const cpu = cpuMs(c.pid) - cpuBefore;
    c.cpuMs += cpu;
    c.subgraphCpuMs += cpuMs(subgraphs.child.pid) - subgraphsBefore;
    c.ok += result.ok;
    c.bad += result.bad;
    c.badExample ??= result.badExample;
    c.seconds += result.seconds;
    c.p50.push(result.p50);
    c.p99.push(result.p99);
    c.roundRps.push(result.ok / result.seconds);
    c.roundCpu.push(cpu / Math.max(1, result.ok));
  };
  for (const group of settings.only) {
    const inGroup = cells.filter((c) => c.group === group);
    for (const c of inGroup) if (c.target !== "direct") await run(c, false);
    for (let round = 0; round < settings.rounds; round++) {
      for (const c of round % 2 === 0 ? inGroup : [...inGroup].reverse()) await run(c, true);
    }
  }
  const wallMs = performance.now() - wallBefore;
  const othersCores = (machineBusyMs() - machineBefore - (ourCpuMs(children) - oursBefore)) / wallMs;

  const rss = {
    gateway: peakRssMb(gateway.child.pid),
    bare: peakRssMb(bare.child.pid),
    subgraphs: peakRssMb(subgraphs.child.pid),
  };
  const logBytes = statSync(gateway.logPath).size;

  out();
  out(
    "| operation | target | req/s (rounds' range) | p50 ms | p99 ms | CPU ms/req of the target process (rounds' range) | subgraphs CPU ms/req | answer size | wrong answers |",
  );
  out("|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const c of cells) {
    const s = samplesOf(c);
    out(
      `| ${c.op} | ${TARGET_LABEL[c.target]} | ${s.rps.toFixed(0)} (${range(c.roundRps, 0)}) | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ` +
        `${s.cpu.toFixed(3)} (${range(c.roundCpu, 3)}) | ${c.target === "direct" ? "(same)" : s.subgraphCpu.toFixed(3)} | ` +
        `${Buffer.byteLength(c.expected)} B | ${c.bad}${c.badExample ? ` (e.g. ${c.badExample.slice(0, 80).replaceAll("|", "\\|")})` : ""} |`,
    );
  }

  const find = (op: string, target: Target) => cells.find((c) => c.op === op && c.target === target);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const ratios: string[][] = [];
  const add = (what: string, value: string, goal: string) => ratios.push([what, value, goal]);
  const pair = (op: string) => {
    const mine = find(op, "gateway");
    const other = find(op, "bare");
    const direct = find(op, "direct");
    return {
      mine: mine && samplesOf(mine),
      bare: other && samplesOf(other),
      direct: direct && samplesOf(direct),
    };
  };
  const fed = pair("federated (4 fetches)");
  if (fed.mine && fed.bare) {
    add("federated: req/s, this gateway vs bare", ratio(fed.mine.rps, fed.bare.rps), "≥ 2× (aim 3×)");
    add("federated: gateway CPU/request, this vs bare", ratio(fed.mine.cpu, fed.bare.cpu), "≤ 0.5×");
  }
  for (const op of ["me { id name } (JWT)", "product (anonymous)"]) {
    const p = pair(op);
    if (p.mine && p.direct) {
      add(`${op}: req/s, this gateway vs subgraph direct`, ratio(p.mine.rps, p.direct.rps), "≥ 0.45×");
      add(`${op}: p50 added by this gateway`, `${(p.mine.p50 - p.direct.p50).toFixed(1)} ms`, "");
    }
    if (p.bare && p.direct) {
      add(`${op}: req/s, bare vs subgraph direct`, ratio(p.bare.rps, p.direct.rps), "");
      add(`${op}: p50 added by bare`, `${(p.bare.p50 - p.direct.p50).toFixed(1)} ms`, "");
    }
    if (p.mine && p.bare) {
      add(`${op}: req/s, this gateway vs bare`, ratio(p.mine.rps, p.bare.rps), "");
      add(`${op}: gateway CPU/request, this vs bare`, ratio(p.mine.cpu, p.bare.cpu), "");
    }
  }
  const anon = find("product (anonymous)", "gateway");
  const jwt = find("product (bearer JWT)", "gateway");
  const rest = find("product (REST GET /api/products/:id)", "gateway");
  if (anon && jwt)
    add(
      "product: gateway CPU/request, bearer JWT vs anonymous",
      ratio(samplesOf(jwt).cpu, samplesOf(anon).cpu),
      "≤ 1.10×",
    );
  if (anon && rest)
    add("product: gateway CPU/request, REST vs GraphQL", ratio(samplesOf(rest).cpu, samplesOf(anon).cpu), "≤ 1.10×");
  const mut = pair("updateProduct (admin JWT)");
  if (mut.mine && mut.bare) {
    add("mutation: req/s, this gateway vs bare", ratio(mut.mine.rps, mut.bare.rps), "");
    add("mutation: gateway CPU/request, this vs bare", ratio(mut.mine.cpu, mut.bare.cpu), "");
  }
  if (mut.mine && mut.direct)
    add("mutation: req/s, this gateway vs subgraph direct", ratio(mut.mine.rps, mut.direct.rps), "");
  add("peak RSS (VmHWM), this gateway", `${rss.gateway.toFixed(0)} MB`, "≤ 250 MB");
  add("peak RSS (VmHWM), bare @apollo/gateway", `${rss.bare.toFixed(0)} MB`, "");
  add("peak RSS (VmHWM), subgraphs process", `${rss.subgraphs.toFixed(0)} MB`, "");
  add("start-up to /readyz 200, this gateway", `${(gateway.startupMs / 1000).toFixed(2)} s`, "≤ 1.5 s");
  add("start-up to first answer, bare @apollo/gateway", `${(bare.startupMs / 1000).toFixed(2)} s`, "");

  out();
  out("| ratio | value | goal |");
  out("|---|---:|---|");
  for (const [what, value, goal] of ratios) out(`| ${what} | ${value} | ${goal} |`);
  out();
  const wrong = cells.reduce((sum, c) => sum + c.bad, 0);
  out(
    `Wrong answers (not counted): ${wrong}. Request log written by this gateway: ${(logBytes / 1e6).toFixed(1)} MB. ` +
      `Other processes on the machine used ${othersCores.toFixed(2)} cores on average during the measurement ` +
      `(load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(
          " ",
        )})${othersCores > 0.2 ? ": the run was noisy, compare ratios within it rather than absolute numbers" : ""}.`,
  );
  if (settings.profileDir)
    out("This run was profiled (--cpu-prof): the gateway's numbers include the profiler's cost.");
  if (Object.keys(settings.gatewayEnv).length > 0) out(`This gateway ran with ${JSON.stringify(settings.gatewayEnv)}.`);

  for (const child of [...children].reverse()) await child.stop();
  children.length = 0;

  if (settings.profileDir) {
    // Each thread writes a profile (tsx's loader runs in one of its own); the main thread's is number 0.
    const written = readdirSync(settings.profileDir).find((name) =>
      new RegExp(`^CPU\\..*\\.${gateway.child.pid}\\.0\\.\\d+\\.cpuprofile$`).test(name),
    );
    if (!written) throw new Error(`no profile of the gateway's main thread in ${settings.profileDir}`);
    const profilePath = join(settings.profileDir, "gateway.cpuprofile");
    renameSync(join(settings.profileDir, written), profilePath);
    writeFileSync(join(settings.profileDir, "windows.json"), `${JSON.stringify(windows, null, 2)}\n`);
    const profile = readProfile(profilePath);
    for (const op of [...new Set(windows.map((w) => w.op))]) {
      console.log(`\n## Profile: ${op}\n`);
      console.log(formatSummary(summarise(profile, { windows: windows.filter((w) => w.op === op) }), 15));
    }
    console.log(`\nprofile: ${relative(process.cwd(), profilePath)} (windows in windows.json)`);
  }

  const command = [
    ...Object.entries({
      BENCH_SECONDS: process.env.BENCH_SECONDS,
      BENCH_ROUNDS: process.env.BENCH_ROUNDS,
      BENCH_CONNECTIONS: process.env.BENCH_CONNECTIONS,
      BENCH_ONLY: process.env.BENCH_ONLY,
      BENCH_GATEWAY_ENV: process.env.BENCH_GATEWAY_ENV ? `'${process.env.BENCH_GATEWAY_ENV}'` : undefined,
      BENCH_PROFILE: process.env.BENCH_PROFILE,
    })
      .filter(([, value]) => value)
      .map(([name, value]) => `${name}=${value}`),
    "npm run bench",
  ].join(" ");
  const total = (performance.now() - started) / 1000;
  out();
  out(`Command: \`${command}\` — ${new Date().toISOString()}, ${total.toFixed(0)} s in all.`);
  writeFileSync(settings.resultsPath, `${lines.join("\n")}\n\n${NOTES}`);
  console.log(`\nwritten: ${relative(process.cwd(), settings.resultsPath)}`);
} finally {
  for (const child of children.reverse()) await child.stop();
  rmSync(dir, { recursive: true, force: true });
}

function ourCpuMs(list: Child[]): number {
  const self = process.cpuUsage();
  return list.reduce((sum, child) => sum + cpuMs(child.pid), (self.user + self.system) / 1000);
}
