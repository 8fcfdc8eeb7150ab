export interface RetryBudgetOptions {
  /** Retries allowed per request over the window. @default 0.2 */
  ratio?: number;
  /** Retries allowed per second of the window whatever the traffic. @default 10 */
  minPerSecond?: number;
  /** Length of the sliding window, in whole seconds. @default 10 */
  windowSeconds?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * A retry budget (as Finagle's and Envoy's): retries may add at most `ratio` of the requests made
 * in the last `windowSeconds`, plus a small reserve, so that when an instance fails the retries
 * cannot multiply the load on the ones left. Counts live in one-second buckets: no allocation per
 * request.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly now: () => number;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private second = 0;
  private totalRequests = 0;
  private totalRetries = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const windowSeconds = options.windowSeconds ?? 10;
    this.ratio = options.ratio ?? 0.2;
    this.reserve = (options.minPerSecond ?? 10) * windowSeconds;
    this.now = options.now ?? Date.now;
    this.requests = new Float64Array(windowSeconds);
    this.retries = new Float64Array(windowSeconds);
  }

  /** A request was made. */
  deposit(): void {
    this.requests[this.advance()]!++;
    this.totalRequests++;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    const bucket = this.advance();
    if (this.totalRetries + 1 > this.totalRequests * this.ratio + this.reserve) return false;
    this.retries[bucket]!++;
    this.totalRetries++;
    return true;
  }

  /** Clears the buckets the clock has left behind and returns the current one. */
  private advance(): number {
    const second = Math.floor(this.now() / 1000);
    const size = this.requests.length;
    if (second !== this.second) {
      const stale = Math.min(second - this.second, size);
      for (let n = 1; n <= stale; n++) {
        const bucket = (((this.second + n) % size) + size) % size;
        this.totalRequests -= this.requests[bucket]!;
        this.totalRetries -= this.retries[bucket]!;
        this.requests[bucket] = 0;
        this.retries[bucket] = 0;
      }
      this.second = second;
    }
    return ((second % size) + size) % size;
  }
}
