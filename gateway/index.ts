import "./no-telemetry.ts";
import { codeCacheStatus, flushCodeCache } from "../common/index.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { applyHeapGrowth } from "./heap.ts";
import { connectToPrimary, isWorker, runPrimary } from "./workers/index.ts";

/** The gateway alone: `npm run gateway -- --supergraph FILE --port N` (or SUPERGRAPH_PATH and PORT). */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    console.error(`gateway: ${error instanceof ConfigError || error instanceof TypeError ? error.message : error}`);
    process.exit(2);
  }
  // Read by V8 at every full collection, so setting it now, before the first request, is in time.
  applyHeapGrowth(config.heapGrowthPercent);
  // GATEWAY_WORKERS > 1: this process only supervises; the workers run this same file and serve.
  // It never loads the gateway itself (federation, Apollo Server, Fastify): the workers start sooner.
  if (config.workers > 1 && !isWorker()) return runPrimary(config);
  const { createGateway } = await import("./gateway.ts");
  const link = isWorker() ? connectToPrimary() : null;
  const gateway = await createGateway(
    config,
    link ? { rateLimitStore: link.rateLimitStore, metricsExposition: link.metricsExposition } : {},
  );
  link?.attach(gateway);
  const url = await gateway.listen();
  flushCodeCache();
  // A worker's listening is announced by the primary, once every worker listens.
  if (!link) {
    gateway.logger.info(
      { url: `${url}/graphql`, supergraph: config.supergraphPath, codeCache: codeCacheStatus() },
      "gateway listening",
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.logger.info({ signal }, "gateway stopping");
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    await gateway.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (link) {
    // Ctrl-C reaches the whole process group: the primary drives the drain, so a worker waits for it.
    process.on("SIGINT", () => {});
    link.onStop((reason) => void stop(reason));
    return;
  }
  process.on("SIGINT", () => void stop("SIGINT"));
  if (process.env.EXIT_WITH_PARENT === "1") {
    // Started by `npm start`: its stdin pipe closes when the launcher goes, however it went.
    process.stdin.on("end", () => void stop("parent exited"));
    process.stdin.on("error", () => void stop("parent exited"));
    process.stdin.resume();
  }
}

main().catch((error) => {
  console.error("gateway: failed to start:", error);
  process.exit(1);
});
