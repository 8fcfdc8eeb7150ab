/** What else the machine was doing during a run: busy CPU time of every process, from /proc/stat. */
import { readFileSync } from "node:fs";

const CLK_TCK = 100;

/** Busy (non-idle) CPU time of the whole machine so far, in milliseconds. */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const [, ...ticks] = line.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal …: idle and iowait are not work.
  const total = ticks.slice(0, 8).reduce((sum, n) => sum + n, 0);
  return ((total - ticks[3]! - ticks[4]!) * 1000) / CLK_TCK;
}
