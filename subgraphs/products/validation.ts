import { badInput } from "../shared/errors.ts";
import { validateOrderLines } from "../shared/order-lines.ts";
import type { ProductPatch, ReservationLine } from "./repository.ts";

export { MAX_LINES, MAX_QUANTITY } from "../shared/order-lines.ts";

/** Checks the shape of the lines to reserve; whether the products exist is the transaction's business. */
export const validateLines: (items: readonly ReservationLine[]) => void = validateOrderLines;

const MAX_PRICE_CENTS = 100_000_000;
const MAX_STOCK = 1_000_000;

/**
 * Checks a new product (`complete`) or a patch; returns the trimmed values given. A null field in a
 * patch means "unchanged".
 */
export function validateProduct(
  input: { name?: string | null; priceCents?: number | null; currency?: string | null; stock?: number | null },
  complete: boolean,
): ProductPatch & { currency?: string } {
  const out: ProductPatch & { currency?: string } = {};
  if (input.name != null) {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200 || /\p{Cc}/u.test(name)) {
      throw badInput("Name must be 1 to 200 printable characters", "name");
    }
    out.name = name;
  }
  if (input.priceCents != null) {
    if (!Number.isInteger(input.priceCents) || input.priceCents < 0 || input.priceCents > MAX_PRICE_CENTS) {
      throw badInput(`priceCents must be a whole number from 0 to ${MAX_PRICE_CENTS}`, "priceCents");
    }
    out.priceCents = input.priceCents;
  }
  if (input.stock != null) {
    if (!Number.isInteger(input.stock) || input.stock < 0 || input.stock > MAX_STOCK) {
      throw badInput(`stock must be a whole number from 0 to ${MAX_STOCK}`, "stock");
    }
    out.stock = input.stock;
  }
  if (input.currency != null) {
    if (!/^[A-Z]{3}$/.test(input.currency)) throw badInput("currency must be an ISO 4217 code", "currency");
    out.currency = input.currency;
  }
  if (complete && (out.name === undefined || out.priceCents === undefined)) {
    throw badInput("name and priceCents are required", out.name === undefined ? "name" : "priceCents");
  }
  return out;
}
