import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { testDatabaseEnv } from "../helpers/database.ts";
import { freePort } from "../helpers/net.ts";

const dirs: string[] = [];
const launchers: ChildProcess[] = [];
after(() => {
  // A failed assertion must not leave a stack running.
  for (const launcher of launchers) if (launcher.exitCode === null) launcher.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The stack's own processes started by the launcher `pid` (Linux /proc): its services and the gateway, run from the TypeScript or the compiled dist/. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // tsx's own helper processes are not the stack's.
      if (ppid === pid && /(subgraphs|sandbox|gateway)\/.*index\.[jt]s/.test(cmdline)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(condition: () => boolean, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startShop(
  env: Record<string, string> = {},
): Promise<{ launcher: ChildProcess; url: string; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), "npm-start-"));
  dirs.push(dir);
  const names = ["PORT", "USERS_PORT", "PRODUCTS_PORT", "ORDERS_PORT", "PAYMENTS_PORT", "PAYMENT_PROVIDER_PORT"];
  const ports: Record<string, string> = {};
  // Replicas listen `REPLICA_PORT_STEP` apart from the first instance: those ports must be free too.
  const step = Number(env.REPLICA_PORT_STEP ?? 100);
  const above = Array.from({ length: Number(env.REPLICAS ?? 1) - 1 }, (_, k) => (k + 1) * step);
  for (const name of names) ports[name] = String(await freePort(above));
  const launcher = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
    env: { ...process.env, ...ports, ...testDatabaseEnv(), DATA_DIR: dir, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  launchers.push(launcher);
  let output = "";
  launcher.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  launcher.stderr!.on("data", (chunk) => {
    output += chunk;
  });
  await until(() => output.includes("The shop is up") || launcher.exitCode !== null, "the shop to start", 60_000);
  assert.ok(output.includes("The shop is up"), output);
  return { launcher, url: `http://127.0.0.1:${ports.PORT}`, output: () => output };
}

test("npm start runs the whole stack, seeded, and Ctrl-C stops every process", async () => {
  // As on a terminal: readable log lines, one per request.
  const { launcher, url, output } = await startShop({ LOG_FORMAT: "pretty", LOG_LEVEL: "info" });
  const children = childrenOf(launcher.pid!);
  assert.equal(children.length, 6, "sandbox, four subgraphs and the gateway");
  assert.match(output(), /GraphQL\s+http:\/\/127\.0\.0\.1:\d+\/graphql/);

  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ products(first: 1) { totalCount } }" }),
  });
  const body = (await res.json()) as { data: { products: { totalCount: number } } };
  assert.ok(body.data.products.totalCount >= 50);
  await until(
    () => /INFO \(gateway\): POST \/graphql 200 [\d.]+ ms query → products/.test(output()),
    "the request's log line",
  );
  assert.doesNotMatch(output(), /^\{"level":/m);

  const exited = new Promise<number | null>((resolve) => launcher.on("exit", (code) => resolve(code)));
  launcher.kill("SIGINT");
  assert.equal(await exited, 0);
  await until(() => children.every((pid) => !alive(pid)), "every child to exit", 15_000);
});

test("a launcher that is killed outright leaves no orphans", async () => {
  // Not a terminal: the log lines stay JSON.
  const { launcher, output } = await startShop({ LOG_LEVEL: "info" });
  assert.match(output(), /^\{"level":30,.*"name":"gateway"/m);
  const children = childrenOf(launcher.pid!);
  assert.equal(children.length, 6);
  launcher.kill("SIGKILL");
  await until(() => children.every((pid) => !alive(pid)), "every child to exit", 15_000);
});

test("REPLICAS=2 runs two instances of each subgraph over one database, prints them, and the gateway uses both", async () => {
  const { launcher, url, output } = await startShop({ REPLICAS: "2", REPLICA_PORT_STEP: "7" });
  const children = childrenOf(launcher.pid!);
  assert.equal(children.length, 10, "sandbox, two of each of the four subgraphs and the gateway");
  const products = output().match(/^ {2}products\s+(http:\/\/\S+) {2}(http:\/\/\S+)$/m);
  assert.ok(products, output());
  const ask = (query: string) =>
    fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    }).then((res) => res.json() as Promise<{ data?: Record<string, unknown>; errors?: unknown[] }>);
  // Six different questions: the response cache would answer a repeated one itself.
  for (let i = 0; i < 6; i++) {
    assert.equal((await ask(`{ products(first: ${i + 1}) { totalCount } }`)).errors, undefined);
  }
  // Each instance answered some of them: the gateway balances over both.
  for (const base of [products[1], products[2]]) {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const served = metrics.match(
      /subgraph_http_requests_total\{route="\/graphql",method="POST",status="200"[^}]*\} (\d+)/,
    );
    assert.ok(served && Number(served[1]) > 0, `${base} served some (${served?.[1]})`);
  }
  // One database: a user registered through one instance signs in through either.
  const email = `replica-${Date.now()}@example.com`;
  const registered = await ask(
    `mutation { register(input: { email: "${email}", name: "R", password: "replica-password" }) { token } }`,
  );
  assert.equal(registered.errors, undefined, JSON.stringify(registered.errors));
  for (let i = 0; i < 2; i++) {
    const login = await ask(`mutation { login(email: "${email}", password: "replica-password") { token } }`);
    assert.equal(login.errors, undefined, JSON.stringify(login.errors));
  }
  const exited = new Promise<number | null>((resolve) => launcher.on("exit", (code) => resolve(code)));
  launcher.kill("SIGINT");
  assert.equal(await exited, 0);
  await until(() => children.every((pid) => !alive(pid)), "every child to exit", 15_000);
});
