import type { ServiceClient } from "../kit/service-client.ts";
import type { OrderLineInput } from "./validation.ts";

export interface ReservedLine {
  productId: string;
  quantity: number;
  unitPriceCents: number;
  currency: string;
}

/** The stock side of placing an order, as the products service offers it. */
export interface Inventory {
  /** Holds stock for every line at the current catalogue prices, or throws the peer's refusal (code kept). */
  reserve(orderId: string, items: readonly OrderLineInput[]): Promise<ReservedLine[]>;
  /**
   * The order exists: its reservation is sold and no longer expires. Throws the peer's refusal
   * (BAD_USER_INPUT with `reason: "RESERVATION_EXPIRED"` when the stock went back on sale first).
   */
  claim(orderId: string): Promise<void>;
  /** Gives back what `reserve` held; false when nothing was held. */
  release(orderId: string): Promise<boolean>;
}

const RESERVE = `mutation Reserve($input: ReserveStockInput!) {
  reserveStock(input: $input) { orderId items { productId quantity unitPriceCents currency } }
}`;
const CLAIM = "mutation Claim($orderId: ID!) { claimStock(orderId: $orderId) { orderId } }";
const RELEASE = "mutation Release($orderId: ID!) { releaseStock(orderId: $orderId) }";

export function createProductsInventory(client: ServiceClient): Inventory {
  return {
    async reserve(orderId, items) {
      const data = await client.request<{ reserveStock: { items: ReservedLine[] } }>(RESERVE, {
        input: { orderId, items: items.map(({ productId, quantity }) => ({ productId, quantity })) },
      });
      return data.reserveStock.items;
    },
    async claim(orderId) {
      await client.request(CLAIM, { orderId });
    },
    async release(orderId) {
      const data = await client.request<{ releaseStock: boolean }>(RELEASE, { orderId });
      return data.releaseStock;
    },
  };
}
