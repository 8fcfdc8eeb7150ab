/**
 * `npm start`: the whole stack on one machine — the payment-provider sandbox, the four subgraphs
 * and the gateway, each its own process with its own SQLite file under DATA_DIR — seeded, with the
 * URLs printed. Ctrl-C (or SIGTERM) stops every child; a child that dies stops the stack.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { generateIdentityKeyPair } from "../common/identity-keys.ts";
import { composeSupergraph, DEFAULT_CONFIG, DEFAULT_SUPERGRAPH, readSupergraphConfig } from "../schema/compose.ts";

interface ServiceSpec {
  name: string;
  entry: string;
  portVar: string;
  defaultPort: number;
  env?: (ports: Record<string, number>) => Record<string, string>;
}

const env = process.env;
const host = "127.0.0.1";
const dataDir = resolve(env.DATA_DIR || ".data");
const graphqlUrl = (port: number) => `http://${host}:${port}/graphql`;

function port(name: string, fallback: number): number {
  const raw = env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`start: ${name} must be a port from 1 to 65535, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const providerApiKey = env.PAYMENT_PROVIDER_API_KEY || "sk_test_sandbox";
// The gateway introspects opaque OAuth tokens at the users service as a client of its own; like
// the identity keys, its secret is fresh on every run unless given.
const introspectionClientId = env.OAUTH_INTROSPECTION_CLIENT_ID || "gateway";
const introspectionSecret = env.OAUTH_INTROSPECTION_CLIENT_SECRET || randomBytes(32).toString("base64url");
const services: ServiceSpec[] = [
  {
    name: "provider-sandbox",
    entry: "sandbox/index.ts",
    portVar: "PAYMENT_PROVIDER_PORT",
    defaultPort: 4010,
  },
  {
    name: "users",
    entry: "subgraphs/users/index.ts",
    portVar: "USERS_PORT",
    defaultPort: 4001,
    env: () => ({
      OAUTH_INTROSPECTION_CLIENT_ID: introspectionClientId,
      OAUTH_INTROSPECTION_CLIENT_SECRET: introspectionSecret,
    }),
  },
  { name: "products", entry: "subgraphs/products/index.ts", portVar: "PRODUCTS_PORT", defaultPort: 4002 },
  {
    name: "orders",
    entry: "subgraphs/orders/index.ts",
    portVar: "ORDERS_PORT",
    defaultPort: 4003,
    env: (p) => ({ PRODUCTS_URL: graphqlUrl(p.products!) }),
  },
  {
    name: "payments",
    entry: "subgraphs/payments/index.ts",
    portVar: "PAYMENTS_PORT",
    defaultPort: 4004,
    env: (p) => ({
      ORDERS_URL: graphqlUrl(p.orders!),
      PAYMENT_PROVIDER_URL: env.PAYMENT_PROVIDER_URL || `http://${host}:${p["provider-sandbox"]}`,
      PAYMENT_PROVIDER_API_KEY: providerApiKey,
    }),
  },
];

const ports: Record<string, number> = Object.fromEntries(services.map((s) => [s.name, port(s.portVar, s.defaultPort)]));
const gatewayPort = port("PORT", 4000);
// --- Identity keys -------------------------------------------------------------------------
// A fresh key pair per run for every process that signs identities (the gateway, and orders and
// payments calling their peers); every process gets all the public keys and trusts the ones its
// role allows. Only these processes can sign identities the others accept.
const identityPairs = Object.fromEntries(
  ["gateway", "orders", "payments"].map((issuer) => [issuer, generateIdentityKeyPair()]),
);
const identityPublicKeys = JSON.stringify(
  Object.fromEntries(Object.entries(identityPairs).map(([issuer, pair]) => [issuer, pair.publicKey])),
);
const identityEnv = (name: string): Record<string, string> => ({
  IDENTITY_PUBLIC_KEYS: identityPublicKeys,
  ...(identityPairs[name] && { IDENTITY_PRIVATE_KEY: identityPairs[name].privateKey }),
});
// --- end of identity keys ----------------------------------------------------------------------
const children: ChildProcess[] = [];
let stopping = false;

function launch(name: string, entry: string, childEnv: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...env, ...identityEnv(name), DATA_DIR: dataDir, HOST: host, EXIT_WITH_PARENT: "1", ...childEnv },
    stdio: ["pipe", "inherit", "inherit"],
  });
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
  for (const service of services) {
    const p = ports[service.name]!;
    const child = launch(service.name, service.entry, { PORT: String(p), ...service.env?.(ports) });
    await waitReady(
      service.name,
      `http://${host}:${p}/${service.name === "provider-sandbox" ? "healthz" : "readyz"}`,
      child,
    );
  }

  // The committed supergraph routes to the default ports; other ports get a composed copy.
  let supergraphPath = DEFAULT_SUPERGRAPH;
  const defaults = services.every((s) => ports[s.name] === s.defaultPort);
  if (!defaults) {
    const urls: Record<string, string> = Object.fromEntries(
      services.filter((s) => s.name !== "provider-sandbox").map((s) => [s.name, graphqlUrl(ports[s.name]!)]),
    );
    supergraphPath = resolve(dataDir, "supergraph.graphql");
    const sources = readSupergraphConfig(DEFAULT_CONFIG).map((s) => ({ ...s, url: urls[s.name] ?? s.url }));
    writeFileSync(supergraphPath, composeSupergraph(sources));
  }
  const gateway = launch("gateway", "gateway/index.ts", {
    PORT: String(gatewayPort),
    SUPERGRAPH_PATH: supergraphPath,
    // An operator's own INTROSPECTION_URL (another authorization server) comes with its own credentials.
    ...(!env.INTROSPECTION_URL && {
      INTROSPECTION_URL: `http://${host}:${ports.users}/oauth/introspect`,
      INTROSPECTION_CLIENT_ID: introspectionClientId,
      INTROSPECTION_CLIENT_SECRET: introspectionSecret,
    }),
  });
  await waitReady("gateway", `http://${host}:${gatewayPort}/readyz`, gateway);

  const base = `http://${host}:${gatewayPort}`;
  console.log(
    [
      "",
      "The shop is up.",
      `  GraphQL      ${base}/graphql`,
      `  REST         ${base}/api/products`,
      `  Health       ${base}/healthz  ${base}/readyz`,
      `  Metrics      ${base}/metrics`,
      `  OAuth token  http://${host}:${ports.users}/oauth/token (client credentials; see README)`,
      ...services.map((s) => `  ${s.name.padEnd(12)} http://${host}:${ports[s.name]}`),
      `  Data         ${dataDir}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

main().catch((error) => {
  console.error(`start: ${error instanceof Error ? error.message : error}`);
  void stop(1);
});
