import type { CostMode } from "./plugin.ts";
import type { RateLimitRule } from "./policy.ts";
import type { ShapeLimits } from "./shape.ts";

/** Everything the operation guards need, validated and frozen by `loadConfig`. 0 turns a limit off. */
export interface GuardsConfig extends ShapeLimits {
  /** Shared rate-limit budget across gateway instances; null keeps it in process memory. @default null */
  readonly redisUrl: string | null;
  /** @default "shop:ratelimit:" */
  readonly redisKeyPrefix: string;
  /** Operator limits over the ones declared with `@rateLimit` (null removes one). @default none */
  readonly rateLimitOverrides: ReadonlyMap<string, RateLimitRule | null>;
  /** Most identity × field entries the in-memory store keeps. @default 100000 */
  readonly rateLimitMaxEntries: number;
  /** Estimated cost allowed per operation (cost directive spec: objects, weighted). @default 1000 */
  readonly maxCost: number;
  /** Assumed length of a list without slicing argument or `@listSize(assumedSize:)`. @default 5 */
  readonly defaultListSize: number;
  /** "enforce" refuses over maxCost; "measure" only logs and counts (to calibrate). @default "enforce" */
  readonly costMode: CostMode;
  /** Lexical tokens per document (the parser stops past it). @default 2000 */
  readonly maxTokens: number;
  /** Operations per batched (array) request; 0 leaves batching off. @default 0 */
  readonly batchMax: number;
  /** Sustained requests per second per client IP, all routes but health; 0 is off. @default 50 */
  readonly throttleRps: number;
  /** Requests a client may make at once above the sustained rate. @default 100 */
  readonly throttleBurst: number;
  /** CIDRs neither throttled nor blocked (a local proxy stands for everyone behind it). @default loopback */
  readonly throttleExempt: readonly string[];
  /** If not empty, only these CIDRs may call the gateway. @default [] */
  readonly ipAllow: readonly string[];
  /** These CIDRs are refused (403). @default [] */
  readonly ipDeny: readonly string[];
  /** Proxies whose X-Forwarded-For is believed (CIDRs, or loopback/linklocal/uniquelocal). @default [] */
  readonly trustedProxies: readonly string[];
  /** Rate-limit refusals within blockWindowSeconds that get a client IP blocked; 0 is off. @default 30 */
  readonly blockThreshold: number;
  /** @default 60 */
  readonly blockWindowSeconds: number;
  /** @default 900 */
  readonly blockDurationSeconds: number;
}

export const DEFAULT_THROTTLE_EXEMPT = Object.freeze(["127.0.0.0/8", "::1/128"]);
