/** A response the sandbox produced for an idempotency key, kept to be replayed byte for byte. */
export interface StoredResponse {
  /** Canonical form of the request parameters that produced the response. */
  readonly fingerprint: string;
  readonly statusCode: number;
  readonly body: unknown;
  readonly storedAt: number;
}

export interface IdempotencyStoreOptions {
  /** How long a key is remembered. @default 86_400_000 (24 hours, as Stripe) */
  ttlMs?: number;
  /** Most keys kept at once; the oldest go first. @default 10_000 */
  maxKeys?: number;
  /** Clock in milliseconds, injectable so tests can expire keys without waiting. @default Date.now */
  now?: () => number;
}

/**
 * Remembers the outcome of each idempotent request. Every method is synchronous on purpose: a
 * caller that checks and then stores within one synchronous stretch of code cannot be overtaken
 * by a concurrent duplicate, so one key never produces two charges.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, StoredResponse>();
  private readonly ttlMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: IdempotencyStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(this.maxKeys >= 1)) throw new RangeError("maxKeys must be at least 1");
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): StoredResponse | undefined {
    this.expire();
    return this.entries.get(key);
  }

  set(key: string, response: Omit<StoredResponse, "storedAt">): void {
    this.expire();
    this.entries.delete(key);
    while (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { ...response, storedAt: this.now() });
  }

  /** Map iteration follows insertion order, so expired keys are always at the front. */
  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [key, entry] of this.entries) {
      if (entry.storedAt > cutoff) break;
      this.entries.delete(key);
    }
  }
}
