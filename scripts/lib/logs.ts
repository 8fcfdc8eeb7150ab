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

/** Turns one JSON log line into a readable one; anything that is not a log line passes through. */
export function prettyLine(colorize: boolean): (line: string) => string {
  const pretty = prettyFactory({ colorize, ignore: "pid,hostname", translateTime: "HH:MM:ss.l" });
  return (line) => pretty(line);
}

/** Copies `from` to `to` line by line, each one made readable. */
export function prettyPipe(from: Readable, to: Writable, colorize: boolean): void {
  const format = prettyLine(colorize);
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    to.write(format(line));
  });
}
