import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { IdentitySigningKey } from "../../common/identity-keys.ts";
import { createServiceClient } from "../kit/service-client.ts";
import { domainError, ErrorCode } from "../shared/errors.ts";

export type OrderStatus = "PENDING" | "PAID" | "CANCELLED";

/** What payments needs to know about an order before charging it. */
export interface OrderSummary {
  id: string;
  totalCents: number;
  currency: string;
  status: OrderStatus;
  ownerId: string;
}

/** The orders subgraph, as payments calls it peer to peer (service identity, not the user's). */
export interface OrdersClient {
  /** The order, or null when it does not exist. */
  getOrder(id: string): Promise<OrderSummary | null>;
  /** Marks the order paid by the payment; idempotent on the orders side. */
  markOrderPaid(orderId: string, paymentId: string): Promise<void>;
  close(): Promise<void>;
}

export interface OrdersClientOptions {
  /** GraphQL endpoint of the orders subgraph. */
  url: string;
  /** The payments service's own key, signing its calls as `payments`. */
  signer: IdentitySigningKey;
  /** @default 5000 */
  timeoutMs?: number;
  logger?: Logger;
}

const ORDER_QUERY = `query PaymentOrder($id: ID!) {
  order(id: $id) { id totalCents currency status user { id } }
}`;

const MARK_PAID = `mutation MarkOrderPaid($orderId: ID!, $paymentId: ID!) {
  markOrderPaid(orderId: $orderId, paymentId: $paymentId) { id status }
}`;

interface OrderData {
  order: { id: string; totalCents: number; currency: string; status: OrderStatus; user: { id: string } } | null;
}

const codeOf = (error: unknown) => (error instanceof GraphQLError ? error.extensions.code : undefined);

export function createOrdersClient(options: OrdersClientOptions): OrdersClient {
  const client = createServiceClient({
    url: options.url,
    peer: "orders",
    signer: options.signer,
    timeoutMs: options.timeoutMs,
  });

  // Whatever went wrong inside orders (a bad secret, a crash) is not the caller's to act on:
  // they see that a service is unavailable, operators see the details in the log.
  const unavailable = (error: unknown, operation: string) => {
    if (codeOf(error) === ErrorCode.SUBGRAPH_UNAVAILABLE) return error as GraphQLError;
    options.logger?.error({ err: error, operation }, "orders service call failed");
    return domainError(ErrorCode.SUBGRAPH_UNAVAILABLE, "The orders service is unavailable", { service: "orders" });
  };

  return {
    async getOrder(id) {
      let data: OrderData;
      try {
        data = await client.request<OrderData>(ORDER_QUERY, { id });
      } catch (error) {
        // Orders refuses ids it could never have issued; for payments that is simply no order.
        const code = codeOf(error);
        if (code === ErrorCode.NOT_FOUND || code === ErrorCode.BAD_USER_INPUT) return null;
        throw unavailable(error, "order");
      }
      const order = data.order;
      if (!order) return null;
      return {
        id: order.id,
        totalCents: order.totalCents,
        currency: order.currency,
        status: order.status,
        ownerId: order.user.id,
      };
    },
    async markOrderPaid(orderId, paymentId) {
      try {
        await client.request(MARK_PAID, { orderId, paymentId });
      } catch (error) {
        throw unavailable(error, "markOrderPaid");
      }
    },
    close: () => client.close(),
  };
}
