import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../../..");

/** One subgraph instance running as its own process (`subgraphs/<name>/index.ts`), as in production. */
export interface ServiceProcess {
  readonly name: string;
  /** Its GraphQL URL; the same after a restart (it comes back on its port). */
  readonly url: string;
  readonly port: number;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Kills it outright (SIGKILL: no draining, no clean-up) and waits until it is gone. */
  kill(): Promise<void>;
  /** Stops it as an orchestrator would (SIGTERM: it drains) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it is ready. */
  start(): Promise<void>;
}

export interface ServiceProcessOptions {
  /** The subgraph's folder under `subgraphs/`. */
  name: string;
  /** Environment beside PORT and HOST (identity keys, DATA_DIR, peers' URLs…). */
  env: Record<string, string>;
  /** @default 0: a free port, kept for restarts */
  port?: number;
  /** @default 30000 */
  readyTimeoutMs?: number;
}

/**
 * Starts a subgraph as a child process on port 0 (or the given port) and waits for its `/readyz`.
 * The child exits with the test process (its stdin closes: EXIT_WITH_PARENT); still, `stop()` or
 * `kill()` every one in `after`.
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  let child: ChildProcess | null = null;
  let port = options.port ?? 0;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const started = spawn(process.execPath, ["--import", "tsx", `subgraphs/${options.name}/index.ts`], {
      cwd: root,
      env: {
        ...process.env,
        LOG_LEVEL: "silent",
        ...options.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        EXIT_WITH_PARENT: "1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child = started;
    exited = new Promise((done) => started.once("exit", () => done()));
    let output = "";
    const ready = new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${options.name} not ready within ${options.readyTimeoutMs ?? 30_000} ms: ${output}`)),
        options.readyTimeoutMs ?? 30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk;
        const match = output.match(/subgraph ready at (http:\/\/\S+)/);
        if (match) {
          clearTimeout(timer);
          done(match[1]!);
        }
      };
      started.stdout!.on("data", onData);
      started.stderr!.on("data", (chunk: Buffer) => {
        output += chunk;
      });
      started.once("exit", (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`${options.name} exited during start-up (${signal ?? code}): ${output}`));
      });
    });
    const url = await ready;
    port = Number(new URL(url).port);
    // Listening is not the same as ready: wait for the service's own word.
    for (const deadline = Date.now() + 10_000; ; ) {
      const res = await fetch(new URL("/readyz", url)).catch(() => null);
      if (res?.ok) break;
      if (Date.now() > deadline) throw new Error(`${options.name} at ${url} never became ready`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const signal = async (name: NodeJS.Signals) => {
    const current = child as ChildProcess | null;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    current.kill(name);
    await exited;
  };

  await launch();
  return {
    name: options.name,
    get url() {
      return `http://127.0.0.1:${port}/graphql`;
    },
    get port() {
      return port;
    },
    get running() {
      const current = child as ChildProcess | null;
      return current !== null && current.exitCode === null && current.signalCode === null;
    },
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
    start: launch,
  };
}
