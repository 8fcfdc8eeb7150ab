// Recent traffic for the status page: requests and errors per operation and per subgraph, in a sliding window.
import type { RequestRecord } from "../context.ts";

export interface TrafficWindowOptions {
  /** How far back the window reaches. @default 300 (five minutes) */
  windowSeconds?: number;
  /** Width of one bucket; the window slides by one bucket at a time. @default 10 */
  bucketSeconds?: number;
  /** Distinct operation (or subgraph) keys kept per bucket; the rest count as "other". @default 100 */
  maxKeys?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface TrafficCount {
  requests: number;
  errors: number;
}

export interface OperationTraffic extends TrafficCount {
  /** Operation name as it resolved against the schema; "unknown" for unnamed or unresolved ones. */
  operation: string;
  /** Route pattern (`/graphql`, `/api/orders/:id`). */
  route: string;
  /** Error codes seen, with how often. */
  codes: Record<string, number>;
}

export interface SubgraphTraffic extends TrafficCount {
  subgraph: string;
}

export interface TrafficSnapshot {
  windowSeconds: number;
  bucketSeconds: number;
  total: TrafficCount;
  operations: OperationTraffic[];
  subgraphs: SubgraphTraffic[];
  /** Requests and errors per bucket, oldest first (the last one is still filling). */
  timeline: (TrafficCount & { at: string })[];
}

interface Bucket {
  start: number;
  total: TrafficCount;
  operations: Map<string, OperationTraffic>;
  subgraphs: Map<string, SubgraphTraffic>;
}

const OTHER = "other";
const UNKNOWN = "unknown";
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/**
 * Counts finished operations in time buckets, in bounded memory: a ring of buckets, each with at
 * most `maxKeys` operation and subgraph keys. An error is a response with an error code or a
 * status of 400 and above; a subgraph error is a fetch without a 2xx or with GraphQL errors.
 */
export class TrafficWindow {
  private readonly bucketMs: number;
  private readonly buckets: (Bucket | null)[];
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: TrafficWindowOptions = {}) {
    const windowSeconds = options.windowSeconds ?? 300;
    const bucketSeconds = options.bucketSeconds ?? 10;
    if (bucketSeconds <= 0 || windowSeconds < bucketSeconds) {
      throw new Error("TrafficWindow: windowSeconds must be at least bucketSeconds, both positive");
    }
    this.bucketMs = bucketSeconds * 1000;
    this.buckets = new Array(Math.ceil(windowSeconds / bucketSeconds)).fill(null);
    this.maxKeys = options.maxKeys ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** One finished request that carried an operation (its observability record) and its status. */
  record(route: string, status: number, record: RequestRecord): void {
    const bucket = this.current();
    const failed = status >= 400 || record.errorCodes.length > 0;
    count(bucket.total, failed);
    const operation = record.operationName !== null && NAME.test(record.operationName) ? record.operationName : UNKNOWN;
    const key = bounded(bucket.operations, `${operation} ${route}`, this.maxKeys, `${OTHER} ${route}`);
    let entry = bucket.operations.get(key);
    if (!entry) {
      entry = { operation: key === `${OTHER} ${route}` ? OTHER : operation, route, requests: 0, errors: 0, codes: {} };
      bucket.operations.set(key, entry);
    }
    count(entry, failed);
    for (const code of record.errorCodes) entry.codes[code] = (entry.codes[code] ?? 0) + 1;
    for (const call of record.subgraphCalls) {
      const name = bounded(bucket.subgraphs, call.subgraph, this.maxKeys, OTHER);
      let sub = bucket.subgraphs.get(name);
      if (!sub) {
        sub = { subgraph: name, requests: 0, errors: 0 };
        bucket.subgraphs.set(name, sub);
      }
      count(sub, call.status === null || call.status < 200 || call.status >= 300 || call.errors > 0);
    }
  }

  snapshot(): TrafficSnapshot {
    const now = this.now();
    const slots = this.buckets.length;
    const newest = Math.floor(now / this.bucketMs) * this.bucketMs;
    const oldest = newest - (slots - 1) * this.bucketMs;
    const total: TrafficCount = { requests: 0, errors: 0 };
    const operations = new Map<string, OperationTraffic>();
    const subgraphs = new Map<string, SubgraphTraffic>();
    const timeline: (TrafficCount & { at: string })[] = [];
    for (let start = oldest; start <= newest; start += this.bucketMs) {
      const bucket = this.buckets[this.slot(start)];
      const live = bucket && bucket.start === start ? bucket : null;
      timeline.push({
        at: new Date(start).toISOString(),
        requests: live?.total.requests ?? 0,
        errors: live?.total.errors ?? 0,
      });
      if (!live) continue;
      add(total, live.total);
      for (const [key, entry] of live.operations) {
        const sum = operations.get(key) ?? { ...entry, requests: 0, errors: 0, codes: {} };
        add(sum, entry);
        for (const [code, n] of Object.entries(entry.codes)) sum.codes[code] = (sum.codes[code] ?? 0) + n;
        operations.set(key, sum);
      }
      for (const [key, entry] of live.subgraphs) {
        const sum = subgraphs.get(key) ?? { subgraph: entry.subgraph, requests: 0, errors: 0 };
        add(sum, entry);
        subgraphs.set(key, sum);
      }
    }
    const byRequests = (a: TrafficCount, b: TrafficCount) => b.requests - a.requests;
    return {
      windowSeconds: (slots * this.bucketMs) / 1000,
      bucketSeconds: this.bucketMs / 1000,
      total,
      operations: [...operations.values()].sort(byRequests),
      subgraphs: [...subgraphs.values()].sort(byRequests),
      timeline,
    };
  }

  private slot(start: number): number {
    return Math.floor(start / this.bucketMs) % this.buckets.length;
  }

  private current(): Bucket {
    const start = Math.floor(this.now() / this.bucketMs) * this.bucketMs;
    const index = this.slot(start);
    let bucket = this.buckets[index];
    if (!bucket || bucket.start !== start) {
      bucket = { start, total: { requests: 0, errors: 0 }, operations: new Map(), subgraphs: new Map() };
      this.buckets[index] = bucket;
    }
    return bucket;
  }
}

function count(target: TrafficCount, failed: boolean): void {
  target.requests++;
  if (failed) target.errors++;
}

function add(target: TrafficCount, source: TrafficCount): void {
  target.requests += source.requests;
  target.errors += source.errors;
}

function bounded(map: Map<string, unknown>, key: string, max: number, overflow: string): string {
  return map.has(key) || map.size < max ? key : overflow;
}
