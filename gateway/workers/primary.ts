import cluster, { type Worker } from "node:cluster";
import { type Logger, pino } from "pino";
import { Counter, Registry } from "prom-client";
import { codeCacheStatus } from "../../common/index.ts";
import type { GatewayConfig } from "../config.ts";
import { createMemoryStore } from "../guards/index.ts";
import { answerConsume } from "./limits.ts";
import type { StopMessage } from "./messages.ts";
import { primaryMetrics } from "./metrics.ts";

/** Set in a worker's environment to its primary's pid. */
export const WORKER_OF = "GATEWAY_WORKER_OF";

export interface PrimaryOptions {
  /** @default a pino JSON logger at config.logLevel */
  logger?: Logger;
  /** Stop when standard input ends (started by `npm start`). @default EXIT_WITH_PARENT=1 */
  exitWithParent?: boolean;
  /** First delay before replacing a worker that died; doubled per quick death. @default 100 */
  restartDelayMs?: number;
  /** Longest delay between replacements in a crash loop. @default 30000 */
  maxRestartDelayMs?: number;
  /** A worker that served this long before dying resets the backoff. @default 10000 */
  stableAfterMs?: number;
  /** Workers still running this long after a stop are killed. @default 15000 */
  drainTimeoutMs?: number;
  /** In a rolling restart, a new worker not listening this long after its fork aborts the roll. @default 30000 */
  startTimeoutMs?: number;
}

/**
 * The primary of GATEWAY_WORKERS > 1: it serves no request. It forks the workers (which share
 * the listening port), replaces one that dies with a backoff, holds the rate-limit counters every
 * worker consumes, aggregates /metrics, on SIGHUP replaces the workers one at a time (a rolling
 * restart: each new worker listens before an old one drains), and on SIGTERM/SIGINT (or its parent
 * going) drains every worker before it exits.
 */
export function runPrimary(config: GatewayConfig, options: PrimaryOptions = {}): void {
  const logger = options.logger ?? pino({ name: "gateway", level: config.logLevel });
  const log = logger.child({ component: "workers" });
  const restartDelayMs = options.restartDelayMs ?? 100;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 30_000;
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 15_000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;

  // The counters live here; the workers' rate-limit evictions are this store's.
  const own = new Registry();
  const evictions = new Counter({
    name: "gateway_rate_limit_evictions_total",
    help: "Rate limit entries dropped to stay under RATE_LIMIT_MAX_ENTRIES",
    registers: [own],
  });
  const store = createMemoryStore({ maxEntries: config.guards.rateLimitMaxEntries, onEvict: () => evictions.inc() });

  const live = new Map<Worker, { startedAt: number; listening: boolean }>();
  const answerMetrics = primaryMetrics({ workers: () => live.keys(), own });
  let everListening = false;
  let announced = false;
  let quickDeaths = 0;
  let stopping = false;
  const restarts = new Set<NodeJS.Timeout>();
  // Workers a rolling restart is bringing up or draining: their exit is the roll's to handle.
  const rolling = new Set<Worker>();
  let roll: Promise<void> | null = null;

  // Workers never read the parent's stdin: only the primary watches it (EXIT_WITH_PARENT).
  cluster.setupPrimary({ stdio: ["ignore", "inherit", "inherit", "ipc"] });

  const fork = () => {
    const worker = cluster.fork({ [WORKER_OF]: String(process.pid) });
    live.set(worker, { startedAt: Date.now(), listening: false });
    worker.on("message", (message: unknown) => {
      if (!answerConsume(store, worker, message)) answerMetrics(worker, message);
    });
    return worker;
  };

  cluster.on("listening", (worker, address) => {
    const state = live.get(worker);
    if (!state) return;
    state.listening = true;
    everListening = true;
    log.info({ worker: worker.process.pid }, "gateway worker listening");
    if (announced || [...live.values()].some((s) => !s.listening)) return;
    announced = true;
    const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
    const base = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
    log.info(
      {
        url: `${base}/graphql`,
        supergraph: config.supergraphPath,
        workers: live.size,
        primary: process.pid,
        codeCache: codeCacheStatus(),
      },
      "gateway listening",
    );
  });

  cluster.on("exit", (worker, code, signal) => {
    const state = live.get(worker);
    live.delete(worker);
    if (stopping) {
      if (live.size === 0) finish(0);
      return;
    }
    if (rolling.delete(worker)) return;
    if (!everListening && !state?.listening) {
      // No worker ever served: a bad start (supergraph, port, …) is not retried forever.
      log.error({ worker: worker.process.pid, code, signal }, "gateway worker failed to start; stopping");
      stop("a worker failed to start", 1);
      return;
    }
    const lived = Date.now() - (state?.startedAt ?? 0);
    quickDeaths = lived >= stableAfterMs ? 0 : quickDeaths + 1;
    const delay = Math.min(restartDelayMs * 2 ** Math.max(0, quickDeaths - 1), maxRestartDelayMs);
    log.error({ worker: worker.process.pid, code, signal, restartInMs: delay }, "gateway worker exited; replacing it");
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (!stopping) fork();
    }, delay);
    restarts.add(timer);
  });

  let exitCode = 0;
  const finish = (code: number) => {
    void store.close();
    log.info({ code }, "gateway stopped");
    process.exit(code || exitCode);
  };

  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ signal: reason, workers: live.size }, "gateway stopping");
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    if (live.size === 0) return finish(code);
    const message: StopMessage = { type: "gateway:stop" };
    // Each worker closes its gateway (in-flight requests finish) and exits.
    for (const worker of live.keys()) if (worker.isConnected()) worker.send(message);
    setTimeout(() => {
      log.error({ workers: [...live.keys()].map((w) => w.process.pid) }, "gateway workers did not drain; killing them");
      for (const worker of live.keys()) worker.process.kill("SIGKILL");
      process.exit(1);
    }, drainTimeoutMs).unref();
  };

  /** Resolves true once the worker listens, false if it exits or stays silent past `ms`. */
  const listeningOf = (worker: Worker, ms: number) =>
    new Promise<boolean>((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        worker.off("listening", onListening);
        worker.off("exit", onExit);
        resolve(up);
      };
      const onListening = () => done(true);
      const onExit = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      worker.on("listening", onListening);
      worker.on("exit", onExit);
    });

  /** Asks a worker to drain and resolves once it has exited (killed past drainTimeoutMs). */
  const retire = (worker: Worker) =>
    new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      const timer = setTimeout(() => {
        log.error({ worker: worker.process.pid }, "gateway worker did not drain; killing it");
        worker.process.kill("SIGKILL");
      }, drainTimeoutMs);
      worker.once("exit", (code, signal) => {
        clearTimeout(timer);
        log.info({ worker: worker.process.pid, code, signal }, "gateway worker retired");
        resolve();
      });
      const message: StopMessage = { type: "gateway:stop" };
      if (worker.isConnected()) worker.send(message);
      else worker.process.kill("SIGTERM");
    });

  /**
   * One worker at a time: fork its replacement, wait until it listens (it has loaded the
   * supergraph, so its /readyz is 200), then drain the old one. Serving capacity never drops below
   * N, and a replacement that cannot start leaves the old workers serving.
   */
  const rollingRestart = async () => {
    const old = [...live.keys()];
    log.info({ workers: old.map((w) => w.process.pid) }, "gateway workers rolling restart");
    let replaced = 0;
    for (const worker of old) {
      if (stopping) return;
      // One that died meanwhile was already replaced by the exit handler.
      if (worker.isDead() || !live.has(worker)) continue;
      const replacement = fork();
      rolling.add(replacement);
      const up = await listeningOf(replacement, startTimeoutMs);
      rolling.delete(replacement);
      if (stopping) return;
      if (!up) {
        log.error(
          { worker: replacement.process.pid, replaced, keeping: [...live.keys()].map((w) => w.process.pid) },
          "gateway worker failed to start; rolling restart aborted, the old workers keep serving",
        );
        if (!replacement.isDead()) {
          rolling.add(replacement);
          replacement.process.kill("SIGKILL");
        }
        return;
      }
      log.info({ worker: worker.process.pid, replacement: replacement.process.pid }, "gateway worker draining");
      rolling.add(worker);
      await retire(worker);
      rolling.delete(worker);
      replaced++;
    }
    log.info({ workers: [...live.keys()].map((w) => w.process.pid), replaced }, "gateway workers rolling restart done");
  };

  process.on("SIGHUP", () => {
    if (stopping) return;
    if (roll) {
      log.info("gateway workers rolling restart already running; SIGHUP ignored");
      return;
    }
    roll = rollingRestart().finally(() => {
      roll = null;
    });
  });
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  if (options.exitWithParent ?? process.env.EXIT_WITH_PARENT === "1") {
    // Started by `npm start`: its stdin pipe closes when the launcher goes, however it went.
    process.stdin.on("end", () => stop("parent exited"));
    process.stdin.on("error", () => stop("parent exited"));
    process.stdin.resume();
  }

  log.info({ workers: config.workers, primary: process.pid }, "gateway starting workers");
  for (let i = 0; i < config.workers; i++) fork();
}
