import { badInput } from "./errors.ts";

export const MAX_LINES = 50;
export const MAX_QUANTITY = 1000;
const MAX_ID_LENGTH = 100;

export interface OrderLine {
  productId: string;
  quantity: number;
}

/**
 * The one rule for order lines, checked by orders (before any stock is touched) and by products
 * (before reserving): 1 to 50 lines, each product once, quantity a whole number from 1 to 1000.
 * Whether the products exist is for the products service to say.
 */
export function validateOrderLines(items: readonly OrderLine[]): void {
  if (items.length < 1 || items.length > MAX_LINES) {
    throw badInput(`An order has 1 to ${MAX_LINES} items`, "items");
  }
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (item.productId.length === 0 || item.productId.length > MAX_ID_LENGTH) {
      throw badInput("Invalid product id", `items[${index}].productId`);
    }
    if (seen.has(item.productId)) {
      throw badInput("Each product may appear only once in an order", `items[${index}].productId`);
    }
    seen.add(item.productId);
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_QUANTITY) {
      throw badInput(`Quantity must be a whole number from 1 to ${MAX_QUANTITY}`, `items[${index}].quantity`);
    }
  });
}
