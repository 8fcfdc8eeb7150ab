/** One limited field's share of an operation, as a store sees it. */
export interface LimitRequest {
  /** Who is counted: `user:<id>` or `ip:<address>`. */
  readonly identity: string;
  /** Schema coordinate, e.g. `Mutation.login`: the parent type is part of every key. */
  readonly coordinate: string;
  readonly max: number;
  readonly windowMs: number;
  /** Calls this operation makes (aliases, list arguments). */
  readonly count: number;
}

export interface LimitDecision {
  readonly coordinate: string;
  readonly allowed: boolean;
  readonly max: number;
  readonly windowMs: number;
  /** Calls left in the window after this operation (if it was let through). */
  readonly remaining: number;
  /** Until the oldest counted call leaves the window. */
  readonly resetMs: number;
  /** When refused: until this operation would fit (0 when allowed). */
  readonly retryAfterMs: number;
}

/**
 * Sliding-log rate limit storage. `consume` decides an operation as a whole and atomically: either
 * every request fits and all are counted, or nothing is counted and the refused ones say when to
 * retry. Concurrent operations never both spend the same budget.
 */
export interface LimitStore {
  readonly kind: "memory" | "redis";
  consume(requests: readonly LimitRequest[]): Promise<LimitDecision[]>;
  close(): Promise<void>;
}
