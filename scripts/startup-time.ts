import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { generateIdentityKeyPair } from "../common/identity-keys.ts";

/**
 * Time from process start to the first `GET /readyz` 200 of the gateway in production mode, run from
 * the TypeScript sources (compiled at start by tsx) and from the compiled `dist/` (`npm run build`
 * first), in alternating rounds; and the whole `npm start` stack (sandbox, every subgraph, the gateway)
 * from the launcher's start to its "The shop is up" line, each time on a fresh data directory (so
 * migrations and seeding are included). Usage: `node --import tsx scripts/startup-time.ts [rounds]`
 * (default 5).
 */
const rounds = Number(process.argv[2] ?? 5);
const variants = {
  "tsx (gateway/index.ts)": ["--import", "tsx", "gateway/index.ts"],
  "compiled (dist/gateway/index.js)": ["dist/gateway/index.js"],
} as const;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function timeToReady(args: readonly string[]): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...args, "--supergraph", "schema/supergraph.graphql"], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      IDENTITY_PRIVATE_KEY: generateIdentityKeyPair().privateKey,
      LOG_LEVEL: "silent",
    },
    stdio: "ignore",
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`exited ${code}`))));
  try {
    for (;;) {
      const ready = await Promise.race([
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (response) => response.status === 200,
          () => false,
        ),
        exited,
      ]);
      if (ready) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
  }
}

/** `npm start` as a new user runs it, on free ports and an empty data directory, until it says it is up. */
async function timeToStackUp(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "startup-time-"));
  const names = ["PORT", "USERS_PORT", "PRODUCTS_PORT", "ORDERS_PORT", "PAYMENTS_PORT", "PAYMENT_PROVIDER_PORT"];
  const ports: Record<string, string> = {};
  for (const name of names) ports[name] = String(await freePort());
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
    env: { ...process.env, ...ports, DATA_DIR: dir, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      let output = "";
      child.stdout!.on("data", (chunk) => {
        output += chunk;
        if (output.includes("The shop is up")) resolve(performance.now() - started);
      });
      child.once("exit", (code) => reject(new Error(`npm start exited ${code}:\n${output}`)));
    });
  } finally {
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGINT");
    await gone;
    rmSync(dir, { recursive: true, force: true });
  }
}

const STACK = "npm start (whole stack, fresh data)";
const samples = new Map<string, number[]>([...Object.keys(variants), STACK].map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, args] of Object.entries(variants)) samples.get(name)!.push(await timeToReady(args));
  samples.get(STACK)!.push(await timeToStackUp());
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const [name, values] of samples) {
  console.log(
    `${name.padEnd(38)} median ${median(values).toFixed(0)} ms  (${values.map((v) => v.toFixed(0)).join(", ")})`,
  );
}
