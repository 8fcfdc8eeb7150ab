import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** A JSON log line of the gateway's processes (pino adds pid to every line). */
export interface LogLine {
  msg?: string;
  pid?: number;
  url?: string;
  worker?: number;
  requestId?: string;
  status?: number;
  time?: number;
  [key: string]: unknown;
}

/** A gateway started as `npm run gateway` would, with its log lines collected as they come. */
export interface Running {
  child: ChildProcess;
  lines: LogLine[];
  exited: Promise<number | null>;
  /** Resolves with the first line (already seen or coming) that matches, within `ms`. */
  waitFor(match: (line: LogLine) => boolean, what: string, ms?: number): Promise<LogLine>;
}

/** Starts `gateway/index.ts` through tsx, or the given entry (arguments to node), on port 0 unless PORT is given. */
export function startGateway(
  env: Record<string, string>,
  entry: readonly string[] = ["--import", "tsx", "gateway/index.ts"],
): Running {
  const child = spawn(process.execPath, [...entry], {
    env: { ...process.env, LOG_LEVEL: "info", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<(line: LogLine) => void>();
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return; // not a log line
    }
    lines.push(line);
    for (const waiter of waiters) waiter(line);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitFor = (match: (line: LogLine) => boolean, what: string, ms = 30_000) => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no "${what}" within ${ms} ms`));
      }, ms);
      const waiter = (line: LogLine) => {
        if (!match(line)) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(line);
      };
      waiters.add(waiter);
      void exited.then((code) => {
        if (!waiters.has(waiter)) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        reject(new Error(`gateway exited with ${code} before "${what}"`));
      });
    });
  };
  return { child, lines, exited, waitFor };
}
