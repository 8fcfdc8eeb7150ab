import { randomUUID } from "node:crypto";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { assertCanRead, isPeer, requireUser } from "../kit/identity.ts";
import type { SubgraphContext } from "../kit/server.ts";
import { badInput, ErrorCode, forbidden } from "../shared/errors.ts";
import type { Inventory, ReservedLine } from "./inventory.ts";
import type { OrderLoaders } from "./loaders.ts";
import type { NewOrder, OrderItemRecord, OrderRecord, OrderRepository } from "./repository.ts";
import { type OrderLineInput, validateOrderLines } from "./validation.ts";

type Context = SubgraphContext<OrderLoaders>;

/** GraphQL `Int` is 32-bit; a larger total could be stored but never returned. */
const MAX_TOTAL_CENTS = 2 ** 31 - 1;

export interface OrderResolverDependencies {
  repository: OrderRepository;
  inventory: Inventory;
}

function readable(order: OrderRecord | null, ctx: Context): OrderRecord | null {
  if (order) assertCanRead(ctx.identity, order.userId, "This order belongs to someone else");
  return order;
}

/** The order to write, priced only from what the products service reserved. */
function priceOrder(id: string, userId: string, lines: readonly OrderLineInput[], reserved: ReservedLine[]): NewOrder {
  const byProduct = new Map(reserved.map((r) => [r.productId, r]));
  const items = lines.map((line, position) => {
    const held = byProduct.get(line.productId);
    // Products answers for exactly what was asked; anything else is a bug, not a client error.
    if (!held || held.quantity !== line.quantity) throw new Error(`Reservation mismatch for ${line.productId}`);
    return { productId: held.productId, quantity: held.quantity, unitPriceCents: held.unitPriceCents, position };
  });
  const currencies = new Set(reserved.map((r) => r.currency));
  if (currencies.size !== 1) throw badInput("All products in one order must have the same currency", "items");
  const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
  if (totalCents > MAX_TOTAL_CENTS)
    throw badInput("The order total is too large; split it into several orders", "items");
  return { id, userId, totalCents, currency: [...currencies][0]!, items };
}

async function releaseQuietly(inventory: Inventory, orderId: string, ctx: Context): Promise<void> {
  try {
    await inventory.release(orderId);
  } catch (error) {
    // The caller's own error is the one to report; stock stuck in a reservation is for operators.
    ctx.log.error({ err: error, orderId }, "could not release reserved stock");
  }
}

const codeOf = (error: unknown): unknown => (error as { extensions?: { code?: unknown } }).extensions?.code;

/** The products service gave the order's stock back before it was claimed: the order cannot stand. */
export const reservationExpired = (error: unknown): boolean =>
  (error as { extensions?: { reason?: unknown } }).extensions?.reason === "RESERVATION_EXPIRED" ||
  codeOf(error) === ErrorCode.NOT_FOUND;

/**
 * Claims the reservation of a written order. True once claimed; false when the claim must be
 * tried again later (the products service did not answer). An expired reservation cancels the
 * order and throws the refusal.
 */
export async function claimStock(inventory: Inventory, repository: OrderRepository, orderId: string): Promise<boolean> {
  try {
    await inventory.claim(orderId);
  } catch (error) {
    if (!reservationExpired(error)) {
      if (codeOf(error) === ErrorCode.SUBGRAPH_UNAVAILABLE) return false;
      throw error;
    }
    await repository.cancelUnclaimed(orderId);
    throw error;
  }
  await repository.markStockClaimed(orderId);
  return true;
}

export function createOrderResolvers({
  repository,
  inventory,
}: OrderResolverDependencies): GraphQLResolverMap<Context> {
  return {
    Query: {
      order: async (_: unknown, args: { id: string }, ctx: Context) =>
        readable(await ctx.loaders.order.load(args.id), ctx),
    },

    Mutation: {
      placeOrder: async (_: unknown, args: { input: { items: OrderLineInput[] } }, ctx: Context) => {
        const userId = requireUser(ctx.identity);
        const lines = args.input.items;
        validateOrderLines(lines);
        const orderId = randomUUID();
        let reserved: ReservedLine[];
        try {
          reserved = await inventory.reserve(orderId, lines);
        } catch (error) {
          // A lost answer may hide a reservation that did happen; a refusal means nothing was held.
          if (codeOf(error) === ErrorCode.SUBGRAPH_UNAVAILABLE) await releaseQuietly(inventory, orderId, ctx);
          throw error;
        }
        let order: OrderRecord;
        try {
          order = await repository.create(priceOrder(orderId, userId, lines, reserved));
        } catch (error) {
          await releaseQuietly(inventory, orderId, ctx);
          throw error;
        }
        // Written but not yet claimed, the order's stock would expire: claim it now, or leave it
        // to the periodic claim (the order stays unpayable until then).
        if (!(await claimStock(inventory, repository, orderId))) {
          ctx.log.warn({ orderId }, "stock claim deferred: the products service did not answer");
        }
        ctx.loaders.order.prime(order.id, order);
        return order;
      },

      markOrderPaid: async (_: unknown, args: { orderId: string; paymentId: string }, ctx: Context) => {
        if (!isPeer(ctx.identity, "payments")) throw forbidden("Only the payments service may mark orders paid");
        if (args.paymentId.length === 0 || args.paymentId.length > 255)
          throw badInput("Invalid payment id", "paymentId");
        return repository.markPaid(args.orderId, args.paymentId);
      },
    },

    Order: {
      __resolveReference: async (reference: { id: string }, ctx: Context) =>
        readable(await ctx.loaders.order.load(reference.id), ctx),
      user: (order: OrderRecord) => ({ __typename: "User", id: order.userId }),
      items: (order: OrderRecord, _: unknown, ctx: Context) => ctx.loaders.itemsByOrder.load(order.id),
    },

    OrderItem: {
      product: (item: OrderItemRecord) => ({ __typename: "Product", id: item.productId }),
    },

    User: {
      __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
      orders: (user: { id: string }, _: unknown, ctx: Context) => {
        assertCanRead(ctx.identity, user.id, "These orders belong to someone else");
        return ctx.loaders.ordersByUser.load(user.id);
      },
    },
  };
}
