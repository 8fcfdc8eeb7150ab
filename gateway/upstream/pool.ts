import type { Logger } from "pino";
import type { SubgraphResponse, SubgraphTransport } from "./client.ts";

interface Instance {
  readonly url: string;
  /** Until when the instance is left out after failing (0: healthy). */
  downUntil: number;
  consecutiveFailures: number;
}

export interface InstancePoolOptions {
  subgraph: string;
  urls: readonly string[];
  /** How long a failed instance is left out before it is tried again. @default 10000 */
  ejectMs?: number;
  logger?: Pick<Logger, "warn" | "info">;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The instances of one subgraph: round-robin over the healthy ones, with passive health checks —
 * an instance that fails to answer is left out for a while, then tried again. When every instance
 * is out, the one that failed longest ago is tried rather than giving up without a try.
 */
export class InstancePool {
  private readonly instances: Instance[];
  private next = 0;
  private readonly ejectMs: number;
  private readonly now: () => number;

  constructor(private readonly options: InstancePoolOptions) {
    if (options.urls.length === 0) throw new Error(`subgraph "${options.subgraph}" has no instances`);
    this.instances = options.urls.map((url) => ({ url, downUntil: 0, consecutiveFailures: 0 }));
    this.ejectMs = options.ejectMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.instances.length;
  }

  /** Healthy instances by URL (for readiness and metrics). */
  health(): { url: string; healthy: boolean }[] {
    const now = this.now();
    return this.instances.map((i) => ({ url: i.url, healthy: i.downUntil <= now }));
  }

  /** The next instance to try, skipping those in `tried`; null when every instance was tried. */
  pick(tried: ReadonlySet<string> = new Set()): string | null {
    const now = this.now();
    const candidates = this.instances.filter((i) => !tried.has(i.url));
    if (candidates.length === 0) return null;
    for (let n = 0; n < this.instances.length; n++) {
      const instance = this.instances[(this.next + n) % this.instances.length]!;
      if (instance.downUntil <= now && !tried.has(instance.url)) {
        this.next = (this.next + n + 1) % this.instances.length;
        return instance.url;
      }
    }
    return candidates.reduce((a, b) => (a.downUntil <= b.downUntil ? a : b)).url;
  }

  succeeded(url: string): void {
    const instance = this.instances.find((i) => i.url === url);
    if (!instance || instance.consecutiveFailures === 0) return;
    instance.consecutiveFailures = 0;
    instance.downUntil = 0;
    this.options.logger?.info({ subgraph: this.options.subgraph, instance: url }, "subgraph instance back in service");
  }

  failed(url: string): void {
    const instance = this.instances.find((i) => i.url === url);
    if (!instance) return;
    instance.consecutiveFailures++;
    instance.downUntil = this.now() + this.ejectMs;
    this.options.logger?.warn(
      { subgraph: this.options.subgraph, instance: url, failures: instance.consecutiveFailures, ejectMs: this.ejectMs },
      "subgraph instance failed; left out for a while",
    );
  }
}

/** Network errors that mean the request never reached the instance: safe to retry any operation. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** The network error code behind a failed fetch, if there is one. */
export function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (code.startsWith("E") || code.startsWith("UND_"))) return code;
    current =
      (current as { cause?: unknown; originalError?: unknown }).cause ??
      (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/**
 * Whether a failed fetch may be tried on another instance: always when it never left this machine;
 * for a query (no side effects) also when the instance broke off or answered 502/503/504.
 */
export function retriable(error: unknown, status: number | undefined, isMutation: boolean): boolean {
  const code = networkCode(error);
  if (code && NOT_SENT.has(code)) return true;
  if (isMutation) return false;
  return code !== undefined || status === 502 || status === 503 || status === 504;
}

/**
 * Wraps a subgraph transport so each fetch goes to the next healthy instance of the pool, and a fetch
 * that fails in a way that is safe to repeat is tried on the next instance. The data source's own
 * error handling (SUBGRAPH_UNAVAILABLE) sees only the last failure.
 */
export function balancedTransport(pool: InstancePool, inner: SubgraphTransport): SubgraphTransport {
  return async (_url, request) => {
    // The planner's subgraph operations start with their type; the body is `{"query":"…", …}`.
    const isMutation = /^\{"query":"\s*mutation\b/.test(request.body);
    const tried = new Set<string>();
    for (;;) {
      const url = pool.pick(tried)!;
      tried.add(url);
      const last = tried.size >= pool.size;
      let response: SubgraphResponse;
      try {
        response = await inner(url, request);
      } catch (error) {
        if (networkCode(error) !== undefined) pool.failed(url);
        if (last || !retriable(error, undefined, isMutation)) throw error;
        continue;
      }
      if (response.status >= 502 && response.status <= 504) {
        pool.failed(url);
        if (!last && retriable(undefined, response.status, isMutation)) continue;
      } else {
        pool.succeeded(url);
      }
      return response;
    }
  };
}
