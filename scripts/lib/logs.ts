/**
 * How `npm start` shows its processes' logs: pretty lines for a person at a terminal, the JSON
 * lines untouched for anything else (a file, a pipe, a log shipper, production).
 */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { prettyFactory } from "pino-pretty";

export type LogFormat = "pretty" | "json";

/**
 * `LOG_FORMAT` (`pretty` or `json`) when set; else pretty only on a terminal outside production.
 * @throws Error naming LOG_FORMAT for any other value
 */
export function logFormat(env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  const raw = env.LOG_FORMAT;
  if (raw === "pretty" || raw === "json") return raw;
  if (raw !== undefined && raw !== "") throw new Error(`LOG_FORMAT must be "pretty" or "json", got "${raw}"`);
  return isTTY && env.NODE_ENV !== "production" ? "pretty" : "json";
}

type LogEntry = Record<string, unknown>;

/**
 * A request's log entry told in one phrase: `POST /graphql 200 12.3 ms query Catalogue → products
 * 4.1 ms [1f2e3d4c]`. The JSON entry keeps every field; a person at a terminal wants the gist.
 */
function requestSummary(log: LogEntry): LogEntry {
  const { level, time, name, msg, err, requestId, method, route, status, durationMs, operation, subgraphs, errors } =
    log;
  const parts = [msg === "request completed" ? "" : `${msg}:`, method, route, status, `${durationMs} ms`];
  const op = operation as { name?: string | null; type?: string | null } | undefined;
  if (op) parts.push([op.type, op.name].filter(Boolean).join(" "));
  const calls = subgraphs as { subgraph: string; durationMs: number; status?: number }[] | undefined;
  if (calls?.length) parts.push(`→ ${calls.map((c) => `${c.subgraph} ${c.durationMs} ms`).join(", ")}`);
  if (Array.isArray(errors) && errors.length > 0) parts.push(`errors: ${errors.join(", ")}`);
  if (typeof requestId === "string") parts.push(`[${requestId.slice(0, 8)}]`);
  const summary: LogEntry = { level, time, name, msg: parts.filter(Boolean).join(" ") };
  if (err) summary.err = err;
  return summary;
}

/**
 * Turns one JSON log entry into one readable line (a request's entry into a one-phrase summary);
 * anything that is not a log entry passes through unchanged.
 */
export function prettyLine(colorize: boolean): (line: string) => string {
  const pretty = prettyFactory({ colorize, singleLine: true, ignore: "pid,hostname", translateTime: "HH:MM:ss.l" });
  return (line) => {
    let log: unknown;
    try {
      log = JSON.parse(line);
    } catch {
      return `${line}\n`;
    }
    if (typeof log !== "object" || log === null || !("level" in log)) return `${line}\n`;
    const entry = log as LogEntry;
    return pretty(entry.component === "request" && "status" in entry ? requestSummary(entry) : entry);
  };
}

/** Copies `from` to `to` line by line, each one made readable. */
export function prettyPipe(from: Readable, to: Writable, colorize: boolean): void {
  const format = prettyLine(colorize);
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    to.write(format(line));
  });
}
