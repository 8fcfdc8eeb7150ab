import type { FormattedExecutionResult } from "graphql";
import type { PathStep, Removal } from "./filter.ts";

/** Writes null at a removed field's path, propagating to the nearest nullable parent as GraphQL does. */
function nullAt(target: Record<string, unknown>, path: PathStep[], index: number): boolean {
  const step = path[index]!;
  if (index === path.length - 1) {
    if (step.nonNull) return true;
    target[step.key] = null;
    return false;
  }
  const value = target[step.key];
  if (value === null || value === undefined || typeof value !== "object") return false;
  let nullField = false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item && typeof item === "object" && nullAt(item as Record<string, unknown>, path, index + 1)) {
        if (step.itemNonNull) nullField = true;
        else value[i] = null;
      }
    }
  } else {
    nullField = nullAt(value as Record<string, unknown>, path, index + 1);
  }
  if (!nullField) return false;
  if (step.nonNull) return true;
  target[step.key] = null;
  return false;
}

/**
 * Puts the removed fields back into a response as GraphQL would have answered them: null at each
 * path (propagated to the nearest nullable parent), with an error naming the path.
 */
export function answerRemovals(
  result: FormattedExecutionResult,
  removals: readonly Removal[],
  code: "UNAUTHENTICATED" | "FORBIDDEN",
): void {
  if (result.data && typeof result.data === "object") {
    for (const { path } of removals) {
      if (nullAt(result.data as Record<string, unknown>, path, 0)) {
        result.data = null;
        break;
      }
    }
  }
  const message =
    code === "UNAUTHENTICATED" ? "Authentication required for this field" : "Not allowed to see this field";
  const errors = removals.map(({ path }) => ({ message, path: path.map((s) => s.key), extensions: { code } }));
  result.errors = [...(result.errors ?? []), ...errors];
}
