import DataLoader from "dataloader";
import type { PaymentRecord, PaymentRepository } from "./repository.ts";

export interface PaymentLoaders {
  /** Payment by id (any status), null when unknown; one query per batch. */
  payment: DataLoader<string, PaymentRecord | null>;
  /** The payment to show for an order: its SUCCEEDED one, else its latest FAILED one, else null. */
  paymentForOrder: DataLoader<string, PaymentRecord | null>;
}

/** Bounds the IN list of one query; larger batches split into several. */
const MAX_BATCH = 500;

export function createPaymentLoaders(repository: PaymentRepository): PaymentLoaders {
  return {
    payment: new DataLoader(
      async (ids) => {
        const byId = new Map((await repository.findByIds(ids)).map((p) => [p.id, p]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
    paymentForOrder: new DataLoader(
      async (orderIds) => {
        const chosen = new Map<string, PaymentRecord>();
        // Oldest first, so a later FAILED attempt replaces an earlier one; a success always wins.
        for (const payment of await repository.findSettledByOrderIds(orderIds)) {
          if (chosen.get(payment.orderId)?.status !== "SUCCEEDED") chosen.set(payment.orderId, payment);
        }
        return orderIds.map((id) => chosen.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
  };
}
