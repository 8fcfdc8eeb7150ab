import type { Logger } from "pino";
import { DEADLINE_EXCEEDED, type SubgraphResponse, type SubgraphTransport } from "./client.ts";
import { RetryBudget } from "./retry-budget.ts";

/**
 * An instance's circuit: closed (in rotation), open (left out after consecutive failures) or
 * half-open (open long enough: one trial request decides).
 */
export type CircuitState = "closed" | "open" | "half-open";

interface Instance {
  readonly url: string;
  /** Fetches sent to it and not yet settled: what least-outstanding balancing compares. */
  outstanding: number;
  state: CircuitState;
  consecutiveFailures: number;
  /** When an open circuit lets a trial request through. */
  openUntil: number;
  /** Last active probe: true answered, false did not, null not probed yet. */
  probe: boolean | null;
}

/** Asks one instance whether it serves (`GET /healthz` within the timeout). */
export type InstanceProbe = (url: string, timeoutMs: number) => Promise<boolean>;

export interface InstancePoolOptions {
  subgraph: string;
  urls: readonly string[];
  /** Consecutive failures (fetches or probes) that open an instance's circuit. @default 3 */
  failureThreshold?: number;
  /** How long an open circuit stays open before one trial request may go through. @default 10000 */
  openMs?: number;
  /** Active health checks off the request path; a success closes an open circuit. @default none */
  probe?: InstanceProbe | undefined;
  /** Between two probes of the pool. @default 5000 */
  probeIntervalMs?: number;
  /** A probe not answered within this counts as a failure. @default 2000 */
  probeTimeoutMs?: number;
  /** Retries allowed per request, over a 10 s sliding window. @default 0.2 */
  retryRatio?: number;
  /** Retries allowed per second whatever the traffic, so a quiet gateway can still fail over. @default 10 */
  retryMinPerSecond?: number;
  logger?: Pick<Logger, "warn" | "info">;
  /** @default Date.now */
  now?: () => number;
}

/** Every circuit open: thrown without trying any instance. Not an instance's failure. */
export const NO_INSTANCE = "ENOINSTANCE";

/** At most this many instances per subgraph: tries are tracked in a bit mask. */
const MAX_INSTANCES = 31;

/**
 * The instances of one subgraph. Picks the instance with the fewest outstanding fetches (ties
 * round-robin) among those whose circuit lets it serve; opens an instance's circuit after
 * consecutive failures and half-opens it later for one trial; probes every instance in the
 * background, so an instance that comes back is used again without waiting for a trial, and one
 * that stops answering is found without a client paying for it.
 *
 * Why not cockatiel's CircuitBreakerPolicy: it wraps a call (`execute`) and decides inside it,
 * whereas picking needs to ask every instance "may you serve now?" without calling it, and a
 * probe's success must be able to close an open circuit. The state machine here is those three
 * states and two counters, updated without allocation on the hot path.
 */
export class InstancePool {
  readonly subgraph: string;
  readonly budget: RetryBudget;
  private readonly instances: Instance[];
  private next = 0;
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private readonly logger: Pick<Logger, "warn" | "info"> | undefined;
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;

  constructor(options: InstancePoolOptions) {
    if (options.urls.length === 0) throw new Error(`subgraph "${options.subgraph}" has no instances`);
    if (options.urls.length > MAX_INSTANCES) {
      throw new Error(`subgraph "${options.subgraph}" has more than ${MAX_INSTANCES} instances`);
    }
    this.subgraph = options.subgraph;
    this.instances = options.urls.map((url) => ({
      url,
      outstanding: 0,
      state: "closed",
      consecutiveFailures: 0,
      openUntil: 0,
      probe: null,
    }));
    this.threshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.budget = new RetryBudget({
      ratio: options.retryRatio ?? 0.2,
      minPerSecond: options.retryMinPerSecond ?? 10,
      now: this.now,
    });
    const probe = options.probe;
    const interval = options.probeIntervalMs ?? 5000;
    if (probe && interval > 0) {
      const timeout = options.probeTimeoutMs ?? 2000;
      this.probeTimer = setInterval(() => void this.probeAll(probe, timeout), interval);
      this.probeTimer.unref();
    }
  }

  get size(): number {
    return this.instances.length;
  }

  /** The same instances, in the same order. */
  sameUrls(urls: readonly string[]): boolean {
    return urls.length === this.instances.length && urls.every((url, i) => this.instances[i]!.url === url);
  }

  urlAt(index: number): string {
    return this.instances[index]!.url;
  }

  /** Each instance's state (status page, readiness, tests). */
  health(): { url: string; healthy: boolean; circuit: CircuitState; outstanding: number; probe: boolean | null }[] {
    return this.instances.map((i) => ({
      url: i.url,
      healthy: i.state === "closed",
      circuit: i.state,
      outstanding: i.outstanding,
      probe: i.probe,
    }));
  }

  /**
   * The index of the instance to try next, skipping those whose bit is set in `tried`; -1 when no
   * instance may serve. Least outstanding first; among equals, the one after the last pick.
   * An open circuit whose time is up becomes half-open and this pick is its trial.
   *
   * `lastResort` (a retry, when the request would otherwise fail): if no closed circuit is left,
   * the open one that opened first is tried anyway, as Envoy's panic routing does — an instance
   * that came back since is used before a probe has noticed, and one still down costs only this
   * request's retry, which the budget bounds.
   */
  pick(tried = 0, lastResort = false): number {
    const now = this.now();
    const count = this.instances.length;
    let best = -1;
    let bestOutstanding = Number.POSITIVE_INFINITY;
    let fallback = -1;
    for (let n = 0; n < count; n++) {
      const index = (this.next + n) % count;
      if (tried & (1 << index)) continue;
      const instance = this.instances[index]!;
      if (instance.state !== "closed" && (instance.state === "half-open" || instance.openUntil > now)) {
        // Half-open: its one trial is in flight. Open: not yet time for a trial.
        if (fallback < 0 || instance.openUntil < this.instances[fallback]!.openUntil) fallback = index;
        continue;
      }
      if (instance.outstanding < bestOutstanding) {
        best = index;
        bestOutstanding = instance.outstanding;
      }
    }
    if (best < 0) return lastResort ? fallback : -1;
    const chosen = this.instances[best]!;
    if (chosen.state === "open") chosen.state = "half-open";
    this.next = (best + 1) % count;
    return best;
  }

  /** A fetch to the instance starts. */
  acquire(index: number): void {
    this.instances[index]!.outstanding++;
  }

  /** A fetch to the instance settled: `true` it answered, `false` it failed, `null` neither (not its fault). */
  release(index: number, answered: boolean | null): void {
    const instance = this.instances[index]!;
    instance.outstanding--;
    if (answered === true) this.succeeded(instance);
    else if (answered === false) this.failed(instance, "request");
    else if (instance.state === "half-open") instance.state = "open"; // the trial proved nothing: wait again
  }

  /** Probes every instance once now (the timer does this every interval). */
  async probeAll(probe: InstanceProbe, timeoutMs: number): Promise<void> {
    // A round slower than the interval is not overtaken by the next.
    if (this.probing) return;
    this.probing = true;
    try {
      await this.probeRound(probe, timeoutMs);
    } finally {
      this.probing = false;
    }
  }

  private async probeRound(probe: InstanceProbe, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.instances.map(async (instance) => {
        let ok = false;
        try {
          ok = await probe(instance.url, timeoutMs);
        } catch {}
        instance.probe = ok;
        if (ok) {
          if (instance.state !== "closed") this.succeeded(instance);
        } else {
          this.failed(instance, "probe");
        }
      }),
    );
  }

  /** Stops the probes. */
  close(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  private succeeded(instance: Instance): void {
    instance.consecutiveFailures = 0;
    if (instance.state === "closed") return;
    instance.state = "closed";
    this.logger?.info({ subgraph: this.subgraph, instance: instance.url }, "subgraph instance back in service");
  }

  private failed(instance: Instance, by: "request" | "probe"): void {
    instance.consecutiveFailures++;
    const reopen = instance.state === "half-open";
    if (!reopen && (instance.state === "open" || instance.consecutiveFailures < this.threshold)) return;
    instance.state = "open";
    instance.openUntil = this.now() + this.openMs;
    this.logger?.warn(
      {
        subgraph: this.subgraph,
        instance: instance.url,
        failures: instance.consecutiveFailures,
        by,
        openMs: this.openMs,
      },
      reopen ? "subgraph instance failed its trial; circuit open again" : "subgraph instance failing; circuit open",
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
 * for a query (no side effects) also when the instance broke off, timed out or answered 502/503/504.
 */
export function retriable(error: unknown, status: number | undefined, isMutation: boolean): boolean {
  const code = networkCode(error);
  if (code === DEADLINE_EXCEEDED || code === NO_INSTANCE) return false;
  if (code && NOT_SENT.has(code)) return true;
  if (isMutation) return false;
  return code !== undefined || status === 502 || status === 503 || status === 504;
}

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Wraps a subgraph transport so each fetch goes to the pool's least busy instance whose circuit
 * is closed, and a fetch that failed in a way that is safe to repeat is tried on another instance
 * while the retry budget and the request's deadline allow. The data source's own error handling
 * (SUBGRAPH_UNAVAILABLE) sees only the last failure.
 */
export function balancedTransport(pool: InstancePool, inner: SubgraphTransport): SubgraphTransport {
  return async (_url, request) => {
    // Without the caller's word, the planner's operations start with their type.
    const isMutation = request.mutation ?? /^\{"query":"\s*mutation\b/.test(request.body);
    pool.budget.deposit();
    let tried = 0;
    let lastError: unknown;
    let lastResponse: SubgraphResponse | undefined;
    for (;;) {
      const index = pool.pick(tried, tried !== 0);
      if (index < 0) {
        if (lastResponse) return lastResponse;
        throw lastError ?? coded(`no instance of subgraph "${pool.subgraph}" is available`, NO_INSTANCE);
      }
      tried |= 1 << index;
      pool.acquire(index);
      let response: SubgraphResponse;
      try {
        response = await inner(pool.urlAt(index), request);
      } catch (error) {
        const code = networkCode(error);
        // A deadline that passed before sending says nothing about the instance.
        pool.release(index, code === undefined || code === DEADLINE_EXCEEDED ? null : false);
        if (!retriable(error, undefined, isMutation) || !pool.budget.tryWithdraw()) throw error;
        lastError = error;
        lastResponse = undefined;
        continue;
      }
      const unavailable = response.status >= 502 && response.status <= 504;
      pool.release(index, !unavailable);
      if (unavailable && retriable(undefined, response.status, isMutation) && pool.budget.tryWithdraw()) {
        lastResponse = response;
        continue;
      }
      return response;
    }
  };
}
