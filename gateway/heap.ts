// The gateway's heap growth bound (GATEWAY_HEAP_GROWTH_PERCENT, validated in config.ts): a V8 flag.
import { setFlagsFromString } from "node:v8";

export const DEFAULT_HEAP_GROWTH_PERCENT = 50;
export const MAX_HEAP_GROWTH_PERCENT = 1000;

/**
 * The bound the environment asks for, read before the configuration is: the compiled gateway's
 * launcher sets the flag before it compiles the gateway, because V8 refuses a code cache made under
 * other flags. A value config.ts would refuse gives null (the gateway then stops, naming it).
 */
export function heapGrowthPercentOf(env: NodeJS.ProcessEnv): number | null {
  const raw = env.GATEWAY_HEAP_GROWTH_PERCENT;
  if (raw === undefined || raw === "") return DEFAULT_HEAP_GROWTH_PERCENT;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 && value <= MAX_HEAP_GROWTH_PERCENT ? value : null;
}

/** Sets V8's `--heap-growing-percent` (read at every full collection); 0 leaves V8's heuristic. Idempotent. */
export function applyHeapGrowth(percent: number | null): void {
  if (percent) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
