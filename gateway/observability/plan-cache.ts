import type { QueryPlan } from "@apollo/query-planner";
import { InMemoryLRUCache } from "@apollo/utils.keyvaluecache";

/** @apollo/gateway's own default size for its plan cache. */
const DEFAULT_MIB = 30;

/**
 * @apollo/gateway's query plan cache (an in-memory LRU bounded by approximate size, as its
 * default), counting lookups as hits and misses. Passed as `queryPlannerConfig.cache`; the gateway
 * clears it itself when the supergraph changes.
 */
export class CountingPlanCache extends InMemoryLRUCache<QueryPlan> {
  constructor(
    private readonly onLookup: (hit: boolean) => void,
    maxMiB = DEFAULT_MIB,
  ) {
    super({ maxSize: 2 ** 20 * maxMiB, sizeCalculation: (plan) => JSON.stringify(plan).length || 1 });
  }

  override async get(key: string): Promise<QueryPlan | undefined> {
    const plan = await super.get(key);
    this.onLookup(plan !== undefined);
    return plan;
  }
}
