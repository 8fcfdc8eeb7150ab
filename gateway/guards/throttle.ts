import { LRUCache } from "lru-cache";

export interface ThrottleOptions {
  /** Sustained requests per second per client. */
  rps: number;
  /** Bucket size: requests allowed at once. */
  burst: number;
  /** Clients tracked at most; past it the least recently seen are forgotten. @default 100000 */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-client token buckets in bounded memory. A forgotten client starts again with a full bucket,
 * which is what an idle one would have anyway; the sweep drops buckets that have refilled.
 */
export class Throttle {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: ThrottleOptions) {
    this.buckets = new LRUCache({ max: options.maxClients ?? 100_000 });
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes `cost` tokens for `client`; when it cannot, says how long until it could. */
  take(client: string, cost = 1, now = Date.now()): { allowed: boolean; retryAfterMs: number } {
    const { rps, burst } = this.options;
    const bucket = this.buckets.peek(client);
    const tokens = bucket ? Math.min(burst, bucket.tokens + ((now - bucket.at) * rps) / 1000) : burst;
    const allowed = tokens >= cost;
    this.buckets.set(client, { tokens: allowed ? tokens - cost : tokens, at: now });
    return { allowed, retryAfterMs: allowed ? 0 : Math.ceil(((cost - tokens) * 1000) / rps) };
  }

  sweep(now = Date.now()): void {
    const refillMs = (this.options.burst * 1000) / this.options.rps;
    const full: string[] = [];
    this.buckets.forEach((bucket, client) => {
      if (now - bucket.at >= refillMs) full.push(client);
    });
    for (const client of full) this.buckets.delete(client);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
