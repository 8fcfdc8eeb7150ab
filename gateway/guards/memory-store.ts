import { getGraphQLRateLimiter, type Identity, type Store } from "graphql-rate-limit";
import { LRUCache } from "lru-cache";
import type { LimitDecision, LimitRequest, LimitStore } from "./store.ts";

export interface MemoryStoreOptions {
  /** Identities × fields kept at most; past it the least recently counted are dropped. @default 100000 */
  maxEntries?: number;
  /** How often expired entries are swept. @default 30000 */
  sweepIntervalMs?: number;
  /** Called when a live entry is dropped to stay under maxEntries (a flood of distinct clients). */
  onEvict?: () => void;
}

interface Entry {
  timestamps: readonly number[];
  expiresAt: number;
}

/**
 * graphql-rate-limit's Store with bounded memory: entries expire with their window and are swept,
 * and at most `maxEntries` are kept: the least recently counted go first (reads only peek, so a
 * write is what keeps an entry).
 */
export class BoundedTimestampStore implements Store {
  private readonly entries: LRUCache<string, Entry>;

  constructor(maxEntries: number, onEvict: () => void = () => {}) {
    this.entries = new LRUCache({
      max: maxEntries,
      dispose: (_entry, _key, reason) => {
        if (reason === "evict") onEvict();
      },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  getForIdentity(identity: Identity): readonly number[] {
    const key = keyOf(identity);
    const entry = this.entries.peek(key);
    if (!entry) return [];
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return [];
    }
    return entry.timestamps;
  }

  setForIdentity(identity: Identity, timestamps: readonly number[], windowMs = 60_000): void {
    const key = keyOf(identity);
    if (timestamps.length === 0) this.entries.delete(key);
    else this.entries.set(key, { timestamps, expiresAt: Math.max(...timestamps) + windowMs });
  }

  sweep(now = Date.now()): void {
    const expired: string[] = [];
    this.entries.forEach((entry, key) => {
      if (entry.expiresAt <= now) expired.push(key);
    });
    for (const key of expired) this.entries.delete(key);
  }
}

const keyOf = (identity: Identity) => `${identity.contextIdentity}\u0000${identity.fieldIdentity}`;

/**
 * The in-process store: graphql-rate-limit's limiter over a bounded store, keyed by identity and
 * `Type.field`. The limiter reads and writes in separate steps, so operations are serialised
 * through one queue: check every field first (read-only), then count them all or none.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): LimitStore & { readonly size: number } {
  const store = new BoundedTimestampStore(options.maxEntries ?? 100_000, options.onEvict);
  const limiter = getGraphQLRateLimiter({
    store,
    identifyContext: (context: { identity: string }) => context.identity,
  });
  const sweeper = setInterval(() => store.sweep(), options.sweepIntervalMs ?? 30_000);
  sweeper.unref();
  let queue: Promise<unknown> = Promise.resolve();

  const run = (request: LimitRequest, mode: "check" | "count") =>
    limiter(
      {
        parent: undefined,
        args: { calls: { length: request.count } },
        context: { identity: request.identity },
        // The limiter keys on info.fieldName: give it the coordinate, parent type included.
        info: { fieldName: request.coordinate } as never,
      },
      {
        max: request.max,
        window: `${request.windowMs}ms`,
        arrayLengthField: "calls",
        readOnly: mode === "check",
        uncountRejected: true,
      },
    );

  const decide = async (requests: readonly LimitRequest[]): Promise<LimitDecision[]> => {
    const refused = new Set<LimitRequest>();
    for (const request of requests) if ((await run(request, "check")) !== undefined) refused.add(request);
    if (refused.size === 0) for (const request of requests) await run(request, "count");
    const now = Date.now();
    return requests.map((request) => {
      const identity = { contextIdentity: request.identity, fieldIdentity: request.coordinate };
      const live = store.getForIdentity(identity).filter((t) => t + request.windowMs > now);
      const resetMs = live.length > 0 ? live[0]! + request.windowMs - now : request.windowMs;
      if (!refused.has(request) && refused.size === 0) {
        return { ...base(request), allowed: true, remaining: Math.max(0, request.max - live.length), resetMs };
      }
      const excess = live.length + request.count - request.max;
      const retryAfterMs = !refused.has(request)
        ? 0
        : request.count > request.max
          ? request.windowMs
          : live[excess - 1]! + request.windowMs - now;
      return {
        ...base(request),
        allowed: !refused.has(request),
        remaining: Math.max(0, request.max - live.length),
        resetMs,
        retryAfterMs: Math.max(retryAfterMs, 0),
      };
    });
  };

  return {
    kind: "memory",
    get size() {
      return store.size;
    },
    consume(requests) {
      const result = queue.then(() => decide(requests));
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      clearInterval(sweeper);
    },
  };
}

function base(request: LimitRequest) {
  return { coordinate: request.coordinate, max: request.max, windowMs: request.windowMs, retryAfterMs: 0 };
}
