import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { canRead, type Identity, isAdmin, isService, requireUser } from "../kit/identity.ts";
import type { SubgraphContext } from "../kit/server.ts";
import { badInput, domainError, ErrorCode, forbidden, notFound, unauthenticated } from "../shared/errors.ts";
import type { PaymentLoaders } from "./loaders.ts";
import type { OrdersClient } from "./orders-client.ts";
import type { PaymentProvider } from "./provider.ts";
import { reconcilePayment } from "./reconcile.ts";
import type { PaymentRecord, PaymentRepository } from "./repository.ts";
import { type ProcessPaymentInput, validateProcessPaymentInput } from "./validation.ts";

type Context = SubgraphContext<PaymentLoaders>;

export interface PaymentResolverDeps {
  repository: PaymentRepository;
  orders: OrdersClient;
  provider: PaymentProvider;
}

/**
 * The one visibility rule for a payment, however it is reached: a payment still being charged
 * does not exist yet; a settled one is for whoever paid, the order's owner, admins and peers.
 */
function visible(identity: Identity, payment: PaymentRecord | null): PaymentRecord | null {
  if (!payment || payment.status === "PROCESSING") return null;
  if (identity.userId === payment.userId || canRead(identity, payment.orderOwnerId)) return payment;
  throw forbidden("This payment belongs to someone else");
}

function declined(payment: PaymentRecord) {
  return domainError(ErrorCode.PAYMENT_DECLINED, "The payment was declined", {
    declineCode: payment.failureCode ?? "card_declined",
    paymentId: payment.id,
  });
}

export function createPaymentResolvers({
  repository,
  orders,
  provider,
}: PaymentResolverDeps): GraphQLResolverMap<Context> {
  /**
   * Gives the settled answer for a key again: the same payment after a success (making sure the
   * order knows it is paid, in case that step failed last time), the same refusal after a decline.
   */
  async function settle(payment: PaymentRecord, ctx: Context): Promise<PaymentRecord> {
    if (payment.status === "FAILED") throw declined(payment);
    await orders.markOrderPaid(payment.orderId, payment.id);
    ctx.log.info({ paymentId: payment.id, orderId: payment.orderId }, "payment succeeded");
    return payment;
  }

  async function charge(payment: PaymentRecord, paymentMethod: string, ctx: Context): Promise<PaymentRecord> {
    let result: Awaited<ReturnType<PaymentProvider["createCharge"]>>;
    try {
      // The row id is the provider's idempotency key: every request racing on this row sends the
      // same key and the same details, so the provider charges once and answers them all alike.
      result = await provider.createCharge({
        amountCents: payment.amountCents,
        currency: payment.currency,
        paymentMethod,
        idempotencyKey: payment.id,
        metadata: { order_id: payment.orderId, payment_id: payment.id, user_id: payment.userId },
      });
    } catch (error) {
      // The provider refused the input and charged nothing: free the key so that the client can
      // correct the payment method and retry with it. Otherwise keep the row PROCESSING so that
      // a retry with the same key asks the provider again under the same provider key.
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      if (code === ErrorCode.BAD_USER_INPUT) await repository.discard(payment.id);
      throw error;
    }
    if (result.status === "declined") {
      const failed = await repository.markFailed(
        payment.id,
        result.declineCode ?? "card_declined",
        result.providerPaymentId,
      );
      ctx.log.info({ paymentId: failed.id, declineCode: failed.failureCode }, "payment declined");
      throw declined(failed);
    }
    return repository.markSucceeded(payment.id, result.providerPaymentId!);
  }

  return {
    Query: {
      payment: async (_: unknown, args: { id: string }, ctx: Context) => {
        const { identity } = ctx;
        if (!identity.userId && !isService(identity) && !isAdmin(identity)) throw unauthenticated();
        return visible(identity, await ctx.loaders.payment.load(args.id));
      },
    },

    Mutation: {
      processPayment: async (_: unknown, args: { input: ProcessPaymentInput }, ctx: Context) => {
        const userId = requireUser(ctx.identity);
        const input = args.input;
        validateProcessPaymentInput(input);
        const reusedFor = (payment: PaymentRecord) => {
          if (payment.orderId !== input.orderId) {
            throw badInput("This idempotency key was already used for another order", "idempotencyKey");
          }
        };

        const existing = await repository.findByKey(userId, input.idempotencyKey);
        if (existing) {
          reusedFor(existing);
          if (existing.status !== "PROCESSING") return settle(existing, ctx);
          // An earlier attempt with this key may have been charged by a process that died before
          // recording it: the provider's answer settles it without a second charge.
          const reconciled = await reconcilePayment(existing, repository, provider);
          if (reconciled) return settle(reconciled, ctx);
        }

        const order = await orders.getOrder(input.orderId);
        if (!order) throw notFound("No such order");
        if (order.ownerId !== userId && !isAdmin(ctx.identity)) throw forbidden("This order belongs to someone else");
        if (order.status === "CANCELLED") throw badInput("The order is cancelled", "orderId");
        if (order.status === "PAID") {
          // A concurrent request with this same key may have finished first: it is the answer.
          const mine = await repository.findByKey(userId, input.idempotencyKey);
          if (mine?.status === "SUCCEEDED" && mine.orderId === order.id) return settle(mine, ctx);
          throw badInput("The order is already paid", "orderId");
        }
        if (order.totalCents <= 0) throw badInput("The order has nothing to pay", "orderId");

        const request = {
          userId,
          orderId: order.id,
          orderOwnerId: order.ownerId,
          idempotencyKey: input.idempotencyKey,
          amountCents: order.totalCents,
          currency: order.currency,
        };
        let claim = await repository.claim(request);
        // Other keys' payments still PROCESSING are settled with the provider before this key may
        // charge; once settled they never block again, so a second round is the last one needed.
        for (let round = 0; claim.kind === "order-unsettled" && round < 2; round++) {
          for (const other of claim.payments) {
            const reconciled = await reconcilePayment(other, repository, provider);
            if (reconciled) continue;
            if (!repository.leaseExpired(other)) {
              throw badInput("Another payment of this order is in progress; retry with its key", "orderId");
            }
            // Past its lease and unknown to the provider: that attempt never reached it and never will.
            await repository.markFailed(other.id, "interrupted", null);
            ctx.log.warn({ paymentId: other.id, orderId: other.orderId }, "interrupted payment marked failed");
          }
          claim = await repository.claim(request);
        }
        if (claim.kind === "order-paid") {
          // The order may not know yet (that step is what a crash would have skipped).
          await orders.markOrderPaid(claim.payment.orderId, claim.payment.id);
          throw badInput("The order is already paid", "orderId");
        }
        if (claim.kind === "order-unsettled") {
          throw badInput("Another payment of this order is in progress; retry with its key", "orderId");
        }
        const payment = claim.payment;
        reusedFor(payment);
        if (payment.status !== "PROCESSING") return settle(payment, ctx);

        return settle(await charge(payment, input.paymentMethod, ctx), ctx);
      },
    },

    Payment: {
      __resolveReference: async (ref: { id: string }, ctx: Context) =>
        visible(ctx.identity, await ctx.loaders.payment.load(ref.id)),
      order: (payment: PaymentRecord) => ({ __typename: "Order", id: payment.orderId }),
    },

    Order: {
      payment: async (order: { id: string }, _: unknown, ctx: Context) =>
        visible(ctx.identity, await ctx.loaders.paymentForOrder.load(order.id)),
    },
  };
}
