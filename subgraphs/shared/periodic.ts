import type { Logger } from "pino";

export interface PeriodicTaskOptions {
  /** Names the task in logs. */
  name: string;
  /** Time between the end of one run and the start of the next. */
  intervalMs: number;
  /** One pass of the work; returns how many items it settled (logged when more than 0). */
  run: () => Promise<number>;
  /** @default no logging */
  logger?: Logger;
}

export interface PeriodicTask {
  /** Runs a pass now (after the one in progress, if any); resolves with its count. */
  runNow(): Promise<number>;
  /** No further passes; resolves once the one in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Recovery work that must happen even when no request asks for it (a crashed peer never will):
 * one pass at once, then one per interval, never two at a time. A failing pass is logged and the
 * next one tries again; the timer never keeps the process alive.
 */
export function startPeriodicTask(options: PeriodicTaskOptions): PeriodicTask {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> = Promise.resolve(0);

  const pass = (): Promise<number> => {
    current = current
      .catch(() => 0)
      .then(async () => {
        if (stopped) return 0;
        try {
          const settled = await options.run();
          if (settled > 0) options.logger?.info({ task: options.name, settled }, `${options.name}: settled ${settled}`);
          return settled;
        } catch (error) {
          options.logger?.warn({ err: error, task: options.name }, `${options.name} failed; retrying later`);
          return 0;
        }
      });
    return current;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void pass().finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  void pass().finally(schedule);

  return {
    runNow: pass,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => {});
    },
  };
}
