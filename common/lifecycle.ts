/** Anything that can be stopped cleanly. */
export interface Closable {
  close(): Promise<void>;
}

interface StopLog {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

/**
 * Stops the process cleanly on SIGINT/SIGTERM (forced after 10 s), and — when started by `npm start`
 * (EXIT_WITH_PARENT=1) — also when the launcher goes away: its stdin pipe closes however it went,
 * so a killed launcher never leaves orphans behind.
 */
export function stopOnSignals(service: Closable, log: StopLog, env: NodeJS.ProcessEnv = process.env): void {
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
  if (env.EXIT_WITH_PARENT === "1") {
    process.stdin.on("end", () => void stop("parent exited"));
    process.stdin.on("error", () => void stop("parent exited"));
    process.stdin.resume();
  }
}
