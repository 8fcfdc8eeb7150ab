import type { Logger } from "pino";

export interface Closable {
  close(): Promise<void>;
}

/**
 * Stops the service cleanly on SIGINT/SIGTERM, and — when started by `npm start` (EXIT_WITH_PARENT=1)
 * — also when the launcher goes away, so a killed launcher never leaves orphans behind.
 */
export function stopOnSignals(service: Closable, log: Pick<Logger, "info" | "error">): void {
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, "stopping");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    try {
      await service.close();
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, "failed to stop cleanly");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (process.env.EXIT_WITH_PARENT === "1") {
    process.stdin.on("end", () => void stop("parent exited"));
    process.stdin.on("error", () => void stop("parent exited"));
    process.stdin.resume();
  }
}
