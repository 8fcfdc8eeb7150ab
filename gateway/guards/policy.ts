/**
 * Limits as data: what each limited field allows, parsed and validated once. Shared by the
 * supergraph directive reader and the configuration (RATE_LIMIT_OVERRIDES).
 */

/** Whose budget a call is counted against. */
export type LimitIdentity = "user" | "ip";

export interface RateLimitRule {
  /** Schema coordinate of the field, e.g. `Mutation.login`. */
  readonly coordinate: string;
  /** Calls allowed per window. */
  readonly max: number;
  readonly windowMs: number;
  /** "user": the signed-in user, else the client IP. "ip": always the client IP. */
  readonly identity: LimitIdentity;
  /** A list argument whose length counts as that many calls (e.g. `ids`, `input.items`). */
  readonly arrayLengthField: string | null;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "1m", "2h", "1d" → milliseconds; throws on anything else. */
export function parseWindow(text: string): number {
  const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text.trim());
  const value = match ? Number(match[1]) * UNITS[match[2]!]! : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > 7 * UNITS.d!) {
    throw new RangeError(`window must be a number with a unit (ms, s, m, h, d) up to 7d, got "${text}"`);
  }
  return value;
}

const COORDINATE = /^[_A-Za-z][_0-9A-Za-z]*\.[_A-Za-z][_0-9A-Za-z]*$/;

/** Validates one rule; every source of rules goes through here. */
export function makeRule(input: {
  coordinate: string;
  max?: unknown;
  window?: unknown;
  identity?: unknown;
  arrayLengthField?: unknown;
}): RateLimitRule {
  const { coordinate } = input;
  if (!COORDINATE.test(coordinate)) throw new RangeError(`"${coordinate}" is not a Type.field coordinate`);
  const max = typeof input.max === "string" ? Number(input.max) : input.max;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 0 || max > 1_000_000) {
    throw new RangeError(`${coordinate}: max must be an integer from 0 to 1000000`);
  }
  if (typeof input.window !== "string" && typeof input.window !== "number") {
    throw new RangeError(`${coordinate}: window is required`);
  }
  const windowMs = typeof input.window === "number" ? input.window : parseWindow(input.window);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError(`${coordinate}: bad window`);
  const identity = String(input.identity ?? "user").toLowerCase();
  if (identity !== "user" && identity !== "ip") {
    throw new RangeError(`${coordinate}: identity must be "user" or "ip", got "${identity}"`);
  }
  const arrayLengthField = input.arrayLengthField == null ? null : String(input.arrayLengthField);
  return Object.freeze({ coordinate, max, windowMs, identity, arrayLengthField });
}

/**
 * RATE_LIMIT_OVERRIDES: either JSON — `{"Mutation.login": {"max": 5, "window": "1m", "identity": "ip"}}` —
 * or a comma-separated list of `Type.field=max/window[/identity]`, e.g.
 * `Mutation.login=100/1m/ip,Query.products=600/1m`. `max` 0 refuses every call; `off` removes a
 * declared limit (`Mutation.login=off`).
 */
export function parseOverrides(text: string): ReadonlyMap<string, RateLimitRule | null> {
  const rules = new Map<string, RateLimitRule | null>();
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new RangeError("not valid JSON");
    }
    for (const [coordinate, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (value === null || value === "off") {
        rules.set(coordinate, null);
        continue;
      }
      if (typeof value !== "object") throw new RangeError(`${coordinate}: expected an object or "off"`);
      rules.set(coordinate, makeRule({ coordinate, ...(value as Record<string, unknown>) }));
    }
    return rules;
  }
  for (const entry of trimmed
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [coordinate = "", spec = ""] = entry.split("=", 2).map((s) => s.trim());
    if (spec === "off") {
      if (!COORDINATE.test(coordinate)) throw new RangeError(`"${coordinate}" is not a Type.field coordinate`);
      rules.set(coordinate, null);
      continue;
    }
    const [max, window, identity] = spec.split("/").map((s) => s.trim());
    if (!max || !window) throw new RangeError(`"${entry}" is not Type.field=max/window[/identity]`);
    rules.set(coordinate, makeRule({ coordinate, max, window, identity }));
  }
  return rules;
}

/** Declared rules with the operator's overrides applied (an override of null removes a rule). */
export function mergeRules(
  declared: ReadonlyMap<string, RateLimitRule>,
  overrides: ReadonlyMap<string, RateLimitRule | null>,
): ReadonlyMap<string, RateLimitRule> {
  const merged = new Map(declared);
  for (const [coordinate, rule] of overrides) {
    if (rule === null) merged.delete(coordinate);
    else merged.set(coordinate, rule);
  }
  return merged;
}
