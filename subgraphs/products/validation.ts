import { badInput } from "../shared/errors.ts";
import type { ReservationLine } from "./repository.ts";

export const MAX_LINES = 50;
export const MAX_QUANTITY = 1000;
const MAX_ID_LENGTH = 100;

/** Checks the shape of the lines to reserve; whether the products exist is the transaction's business. */
export function validateLines(items: readonly ReservationLine[]): void {
  if (items.length < 1 || items.length > MAX_LINES) {
    throw badInput(`Between 1 and ${MAX_LINES} items are required`, "items");
  }
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (item.productId.length === 0 || item.productId.length > MAX_ID_LENGTH) {
      throw badInput("Invalid product id", `items[${index}].productId`);
    }
    if (seen.has(item.productId)) {
      throw badInput("Each product may appear only once", `items[${index}].productId`);
    }
    seen.add(item.productId);
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_QUANTITY) {
      throw badInput(`Quantity must be a whole number from 1 to ${MAX_QUANTITY}`, `items[${index}].quantity`);
    }
  });
}
