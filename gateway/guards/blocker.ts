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
  private readonly strikes = new Map<string, number[]>();
  private readonly blocked = new Map<string, number>();
  private readonly maxClients: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: BlockerOptions) {
    this.maxClients = options.maxClients ?? 100_000;
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Milliseconds the client stays blocked, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const until = this.blocked.get(client);
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
    const recent = (this.strikes.get(client) ?? []).filter((t) => t > now - this.options.windowMs);
    recent.push(now);
    this.strikes.delete(client);
    if (recent.length < this.options.threshold) {
      this.strikes.set(client, recent);
      if (this.strikes.size > this.maxClients) this.strikes.delete(this.strikes.keys().next().value as string);
      return false;
    }
    this.blocked.set(client, now + this.options.durationMs);
    if (this.blocked.size > this.maxClients) this.blocked.delete(this.blocked.keys().next().value as string);
    this.options.onBlock?.(client, recent.length);
    return true;
  }

  sweep(now = Date.now()): void {
    for (const [client, until] of this.blocked) if (until <= now) this.blocked.delete(client);
    for (const [client, times] of this.strikes) {
      if ((times.at(-1) ?? 0) <= now - this.options.windowMs) this.strikes.delete(client);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
