import { LRUCache } from "lru-cache";

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
  // Insertion order is eviction order: reads use peek(), so replaying a key does not keep it longer.
  private readonly entries: LRUCache<string, StoredResponse>;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: IdempotencyStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    const maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(maxKeys >= 1)) throw new RangeError("maxKeys must be at least 1");
    // The lifetime is checked here rather than by the cache, so that it follows the injected clock.
    this.entries = new LRUCache({ max: maxKeys });
  }

  get size(): number {
    this.expire();
    return this.entries.size;
  }

  get(key: string): StoredResponse | undefined {
    this.expire();
    return this.entries.peek(key);
  }

  set(key: string, response: Omit<StoredResponse, "storedAt">): void {
    this.expire();
    this.entries.set(key, { ...response, storedAt: this.now() });
  }

  /** Oldest first (`rkeys`), so the sweep stops at the first key still alive. */
  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    const expired: string[] = [];
    for (const key of this.entries.rkeys()) {
      if (this.entries.peek(key)!.storedAt > cutoff) break;
      expired.push(key);
    }
    for (const key of expired) this.entries.delete(key);
  }
}
