/**
 * The benchmark's child processes: started on 127.0.0.1 and port 0, waited for without fixed
 * sleeps, read from /proc (CPU and peak memory), and always stopped.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { runtimeFor } from "../../scripts/lib/entry.ts";

/** The repository root: every child runs from there, as `npm run …` would. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLK_TCK = 100;
const START_TIMEOUT_MS = 60_000;

/** User + system CPU of a process so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Peak resident set size of a process so far (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** performance.now() when it was spawned (a --cpu-prof profile starts about then). */
  readonly spawnedAt: number;
  /** Asks it to stop (SIGTERM), and kills it if it has not gone in 10 s. */
  stop(): Promise<void>;
}

function track(name: string, child: ChildProcess, spawnedAt: number): Child {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    name,
    process: child,
    pid: child.pid!,
    spawnedAt,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function failIfExited(child: ChildProcess, name: string): void {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
  }
}

/** Starts a Node child that prints one line when it is up, and returns that line. */
export async function startWithFirstLine(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ child: Child; line: string }> {
  const spawnedAt = performance.now();
  // stdin is a pipe so a child can notice the benchmark going away, however it goes.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "inherit"] });
  const tracked = track(name, child, spawnedAt);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = "";
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start in ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        const end = buffered.indexOf("\n");
        if (end >= 0) {
          clearTimeout(timer);
          resolve(buffered.slice(0, end));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before it was ready`));
      });
    });
    child.stdout!.resume();
    return { child: tracked, line };
  } catch (error) {
    await tracked.stop();
    throw error;
  }
}

/** Polls `probe` until it is true; the child must stay up meanwhile. */
async function waitFor(name: string, child: ChildProcess, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    failIfExited(child, name);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${name} not ready in ${START_TIMEOUT_MS} ms`);
}

export interface GatewayProcess {
  child: Child;
  url: string;
  /** From spawning the process to the first answer that says it serves. */
  startupMs: number;
  /** Where its standard output (the request log) goes. */
  logPath: string;
}

/**
 * This gateway, from its real entry (`gateway/index.ts`, compiled to dist/), in production mode on port 0. Its request
 * log goes to a file (as to a log collector); the URL is read from its "gateway listening" line,
 * and it is ready when `/readyz` answers 200.
 */
export async function startGateway(options: {
  supergraphPath: string;
  env: NodeJS.ProcessEnv;
  dir: string;
  nodeOptions?: string[];
}): Promise<GatewayProcess> {
  const logPath = join(options.dir, "gateway.log");
  const log = openSync(logPath, "w");
  const spawnedAt = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeOptions ?? []),
      // As production runs it: the compiled dist/ (run.ts builds it first when a source changed).
      ...runtimeFor(ROOT).argsFor("gateway/index.ts"),
      "--supergraph",
      options.supergraphPath,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    // EXIT_WITH_PARENT: the gateway stops when its stdin pipe closes, so it never outlives the benchmark.
    { cwd: ROOT, env: { ...options.env, EXIT_WITH_PARENT: "1" }, stdio: ["pipe", log, "inherit"] },
  );
  closeSync(log);
  const tracked = track("gateway", child, spawnedAt);
  try {
    let url: string | null = null;
    await waitFor("gateway", child, async () => {
      if (url === null) {
        const listening = readFileSync(logPath, "utf8")
          .split("\n")
          .find((line) => line.includes('"gateway listening"'));
        if (!listening) return false;
        url = new URL((JSON.parse(listening) as { url: string }).url).origin;
      }
      return (await fetch(`${url}/readyz`)).status === 200;
    });
    return { child: tracked, url: url!, startupMs: performance.now() - spawnedAt, logPath };
  } catch (error) {
    await tracked.stop();
    throw error;
  }
}

/** The bare `@apollo/gateway` (bench/fixtures/bare-gateway.ts): ready at its first answer to `{ __typename }`. */
export async function startBareGateway(options: {
  supergraphPath: string;
  env: NodeJS.ProcessEnv;
}): Promise<{ child: Child; url: string; startupMs: number }> {
  const { child, line } = await startWithFirstLine(
    "bare gateway",
    ["--import", "tsx", "bench/fixtures/bare-gateway.ts", options.supergraphPath],
    options.env,
  );
  const url = new URL(line.trim()).origin;
  try {
    await waitFor("bare gateway", child.process, async () => {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"query":"{ __typename }"}',
      });
      return res.status === 200;
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, url, startupMs: performance.now() - child.spawnedAt };
}
