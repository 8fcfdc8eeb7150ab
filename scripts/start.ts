/**
 * `npm start`: the whole stack on one machine — every subgraph `schema/supergraph.yaml` lists that
 * has a folder under `subgraphs/` (plus the payment provider's sandbox when payments runs), and the
 * gateway, each its own process with its own SQLite file under DATA_DIR — seeded, with the URLs
 * printed. A subgraph the yaml lists without a folder here is external: it is only routed to.
 * `REPLICAS=N` runs N instances of each local subgraph over the same database (the same SQLite
 * file, or DATABASE_URL, passed through as given); the gateway balances over them (SUBGRAPH_URLS)
 * and the services call each other's instances in turn.
 * Ctrl-C (or SIGTERM) stops every child; a child that dies stops the stack.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentityKeyPair } from "../common/identity-keys.ts";
import {
  compose,
  DEFAULT_CONFIG,
  DEFAULT_SUPERGRAPH,
  loadSubgraphSources,
  readSupergraphEntries,
} from "../schema/compose.ts";
import { runtimeFor } from "./lib/entry.ts";
import { logFormat, prettyPipe } from "./lib/logs.ts";
import { type Helper, type LocalProcess, peerUrls, planStack, readPort, replicaUrls } from "./lib/plan.ts";

const env = process.env;
const root = resolve(fileURLToPath(import.meta.url), "../..");
const host = "127.0.0.1";
const dataDir = resolve(env.DATA_DIR || ".data");

const providerApiKey = env.PAYMENT_PROVIDER_API_KEY || "sk_test_sandbox";
// The gateway introspects opaque OAuth tokens at the users service as a client of its own; like
// the identity keys, its secret is fresh on every run unless given.
const introspectionClientId = env.OAUTH_INTROSPECTION_CLIENT_ID || "gateway";
const introspectionSecret = env.OAUTH_INTROSPECTION_CLIENT_SECRET || randomBytes(32).toString("base64url");

/** Processes some subgraphs need running before them: what the convention cannot guess. */
const helpers: Record<string, Helper[]> = {
  payments: [
    {
      name: "provider-sandbox",
      entry: "sandbox/index.ts",
      portVar: "PAYMENT_PROVIDER_PORT",
      defaultPort: 4010,
      readyPath: "/healthz",
    },
  ],
};

/** Settings some subgraphs need beyond their port and their peers' URLs. */
const settings: Record<string, (byName: Map<string, LocalProcess>) => Record<string, string>> = {
  users: () => ({
    OAUTH_INTROSPECTION_CLIENT_ID: introspectionClientId,
    OAUTH_INTROSPECTION_CLIENT_SECRET: introspectionSecret,
  }),
  payments: (byName) => ({
    PAYMENT_PROVIDER_URL: env.PAYMENT_PROVIDER_URL || `http://${host}:${byName.get("provider-sandbox")?.port}`,
    PAYMENT_PROVIDER_API_KEY: providerApiKey,
  }),
};

let plan: ReturnType<typeof planStack>;
let gatewayPort: number;
let format: ReturnType<typeof logFormat>;
try {
  plan = planStack(readSupergraphEntries(DEFAULT_CONFIG), { root, env, host, helpers });
  gatewayPort = readPort(env, "PORT", 4000);
  format = logFormat(env, process.stdout.isTTY === true);
} catch (error) {
  console.error(`start: ${(error as Error).message}`);
  process.exit(2);
}
const byName = new Map(plan.processes.map((p) => [p.name, p]));
// --- Identity keys -------------------------------------------------------------------------
// A fresh key pair per run for every process that signs identities (the gateway, and orders and
// payments calling their peers); every process gets all the public keys and trusts the ones its
// role allows. Only these processes can sign identities the others accept. Replicas of a service
// share its key: they are the same issuer.
const identityPairs = Object.fromEntries(
  ["gateway", "orders", "payments"].map((issuer) => [issuer, generateIdentityKeyPair()]),
);
const identityPublicKeys = JSON.stringify(
  Object.fromEntries(Object.entries(identityPairs).map(([issuer, pair]) => [issuer, pair.publicKey])),
);
const identityEnv = (issuer: string): Record<string, string> => ({
  IDENTITY_PUBLIC_KEYS: identityPublicKeys,
  ...(identityPairs[issuer] && { IDENTITY_PRIVATE_KEY: identityPairs[issuer].privateKey }),
});
// --- end of identity keys ----------------------------------------------------------------------
const children: ChildProcess[] = [];
let stopping = false;

const runtime = runtimeFor(root);

function launch(name: string, entry: string, childEnv: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, runtime.argsFor(entry), {
    cwd: root,
    env: { ...env, DATA_DIR: dataDir, HOST: host, EXIT_WITH_PARENT: "1", ...childEnv },
    // stdin stays open to the child: its end tells the child the launcher is gone (EXIT_WITH_PARENT).
    stdio: ["pipe", format === "pretty" ? "pipe" : "inherit", "inherit"],
  });
  if (child.stdout) prettyPipe(child.stdout, process.stdout, process.stdout.hasColors?.() ?? false);
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`start: ${name} exited (${signal ?? code}); stopping the stack`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

async function waitReady(name: string, url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was not ready at ${url} within 30 s`);
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = children
    .filter((c) => c.exitCode === null && c.signalCode === null)
    .map(
      (c) =>
        new Promise<void>((done) => {
          c.once("exit", () => done());
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
        }),
    );
  await Promise.all(exits);
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

async function main() {
  mkdirSync(dataDir, { recursive: true });
  const peers = peerUrls(plan);
  // Every process starts at once: none needs another to be up to start (peers are called per
  // request), and the stack is up in the time of its slowest process rather than their sum.
  const ready: Promise<void>[] = [];
  for (const p of plan.processes) {
    const start = (port: number, replica: number) => {
      const name = replica === 0 ? p.name : `${p.name} #${replica + 1}`;
      const child = launch(name, p.entry, {
        ...identityEnv(p.name),
        ...peers,
        PORT: String(port),
        ...settings[p.name]?.(byName),
      });
      return waitReady(name, `http://${host}:${port}${p.readyPath}`, child);
    };
    // The first instance brings the shared database up to date and seeds it; the service's other
    // instances then start together on a database that is ready, so no two run the migrations at once.
    ready.push(
      start(p.ports[0]!, 0).then(() =>
        Promise.all(p.ports.slice(1).map((port, k) => start(port, k + 1))).then(() => {}),
      ),
    );
  }

  // The committed supergraph routes to the yaml's ports; other ports get a composed copy.
  let supergraphPath = DEFAULT_SUPERGRAPH;
  if (!plan.defaultPorts) {
    supergraphPath = resolve(dataDir, "supergraph.graphql");
    const sources = (await loadSubgraphSources(DEFAULT_CONFIG)).map((s) => ({
      ...s,
      url: byName.get(s.name)?.graphqlUrl ?? s.url,
    }));
    writeFileSync(supergraphPath, compose(sources).supergraphSdl);
  }
  const users = byName.get("users");
  const balanced = replicaUrls(plan, env.SUBGRAPH_URLS);
  const gateway = launch("gateway", "gateway/index.ts", {
    ...identityEnv("gateway"),
    PORT: String(gatewayPort),
    SUPERGRAPH_PATH: supergraphPath,
    ...(balanced && { SUBGRAPH_URLS: balanced }),
    // An operator's own INTROSPECTION_URL (another authorization server) comes with its own credentials.
    ...(!env.INTROSPECTION_URL &&
      users && {
        INTROSPECTION_URL: `http://${host}:${users.port}/oauth/introspect`,
        INTROSPECTION_CLIENT_ID: introspectionClientId,
        INTROSPECTION_CLIENT_SECRET: introspectionSecret,
      }),
  });
  await Promise.all([...ready, waitReady("gateway", `http://${host}:${gatewayPort}/readyz`, gateway)]);

  const base = `http://${host}:${gatewayPort}`;
  const width = Math.max(
    12,
    ...plan.processes.map((p) => p.name.length + 1),
    ...plan.external.map((e) => e.name.length + 1),
  );
  console.log(
    [
      "",
      "The shop is up.",
      `  GraphQL      ${base}/graphql`,
      `  REST         ${base}/api/products`,
      `  Health       ${base}/healthz  ${base}/readyz`,
      `  Metrics      ${base}/metrics`,
      ...(env.NODE_ENV === "production"
        ? []
        : [`  Explorer     ${base}/graphql (in a browser)  ${base}/api/docs  ${base}/status`]),
      ...(users ? [`  OAuth token  http://${host}:${users.port}/oauth/token (client credentials; see README)`] : []),
      ...plan.processes.map(
        (p) => `  ${p.name.padEnd(width)} ${p.ports.map((port) => `http://${host}:${port}`).join("  ")}`,
      ),
      ...plan.external.map((e) => `  ${e.name.padEnd(width)} ${e.url} (external, routed to only)`),
      `  Data         ${dataDir}`,
      `  Running      ${runtime.compiled ? "the compiled dist/" : "the TypeScript sources (changed since the last npm run build)"}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

main().catch((error) => {
  console.error(`start: ${error instanceof Error ? error.message : error}`);
  void stop(1);
});
