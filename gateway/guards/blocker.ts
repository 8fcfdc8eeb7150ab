import { LRUCache } from "lru-cache";

export interface BlockerOptions {
  /** Strikes within the window that block a client. */
  threshold: number;
  windowMs: number;
  durationMs: number;
  /** Clients tracked at most. @default 100000 */
  maxClients?: number;
  /** Called once when a client becomes blocked. */
  onBlock?: (client: string, strikes: number) => void;
}

/**
 * Blocks clients that keep hitting limits. Each refusal is a strike; `threshold` strikes within
 * `windowMs` block the client for `durationMs`. Refusals while blocked are not strikes, so a block
 * ends on time. Memory is bounded: at most `threshold` strike times per client, `maxClients` clients.
 */
export class Blocker {
  // Past maxClients the least recently struck or blocked client is forgotten.
  private readonly strikes: LRUCache<string, number[]>;
  private readonly blocked: LRUCache<string, number>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: BlockerOptions) {
    const max = options.maxClients ?? 100_000;
    this.strikes = new LRUCache({ max });
    this.blocked = new LRUCache({ max });
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Milliseconds the client stays blocked, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const until = this.blocked.peek(client);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blocked.delete(client);
      return 0;
    }
    return until - now;
  }

  get blockedCount(): number {
    return this.blocked.size;
  }

  /** Records a refusal; true when it blocks the client. */
  strike(client: string, now = Date.now()): boolean {
    if (this.options.threshold <= 0 || this.blockedFor(client, now) > 0) return false;
    const recent = (this.strikes.peek(client) ?? []).filter((t) => t > now - this.options.windowMs);
    recent.push(now);
    if (recent.length < this.options.threshold) {
      this.strikes.set(client, recent);
      return false;
    }
    this.strikes.delete(client);
    this.blocked.set(client, now + this.options.durationMs);
    this.options.onBlock?.(client, recent.length);
    return true;
  }

  sweep(now = Date.now()): void {
    const ended: string[] = [];
    this.blocked.forEach((until, client) => {
      if (until <= now) ended.push(client);
    });
    for (const client of ended) this.blocked.delete(client);
    const stale: string[] = [];
    this.strikes.forEach((times, client) => {
      if ((times.at(-1) ?? 0) <= now - this.options.windowMs) stale.push(client);
    });
    for (const client of stale) this.strikes.delete(client);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
