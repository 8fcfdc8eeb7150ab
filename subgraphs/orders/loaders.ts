import DataLoader from "dataloader";
import type { OrderItemRecord, OrderRecord, OrderRepository } from "./repository.ts";

export interface OrderLoaders {
  /** Order by id, null when unknown. */
  order: DataLoader<string, OrderRecord | null>;
  /** A user's orders, newest first, keyed by user id. */
  ordersByUser: DataLoader<string, OrderRecord[]>;
  /** An order's items in their original order, keyed by order id. */
  itemsByOrder: DataLoader<string, OrderItemRecord[]>;
}

/** Bounds the IN list of one query; larger batches split into several. */
const MAX_BATCH = 500;

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** One set per request: each loader answers a whole batch of keys with one query. */
export function createOrderLoaders(repository: OrderRepository): OrderLoaders {
  const order: OrderLoaders["order"] = new DataLoader(
    async (ids) => {
      const byId = new Map((await repository.findByIds(ids)).map((o) => [o.id, o]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { maxBatchSize: MAX_BATCH },
  );
  const ordersByUser: OrderLoaders["ordersByUser"] = new DataLoader(
    async (userIds) => {
      const orders = await repository.findByUserIds(userIds);
      // Later references to these orders in the same request need no query of their own.
      for (const o of orders) order.prime(o.id, o);
      const byUser = groupBy(orders, (o) => o.userId);
      return userIds.map((id) => byUser.get(id) ?? []);
    },
    { maxBatchSize: MAX_BATCH },
  );
  const itemsByOrder: OrderLoaders["itemsByOrder"] = new DataLoader(
    async (orderIds) => {
      const byOrder = groupBy(await repository.itemsOf(orderIds), (i) => i.orderId);
      return orderIds.map((id) => byOrder.get(id) ?? []);
    },
    { maxBatchSize: MAX_BATCH },
  );
  return { order, ordersByUser, itemsByOrder };
}
