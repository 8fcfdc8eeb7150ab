import { badInput } from "../shared/errors.ts";

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_PAYMENT_METHOD_LENGTH = 255;
const MAX_ID_LENGTH = 255;

// Printable ASCII only: keys travel in HTTP headers to the provider and end up in logs.
const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

export interface ProcessPaymentInput {
  orderId: string;
  idempotencyKey: string;
  paymentMethod: string;
}

/** Refuses malformed input before anything is read or charged. */
export function validateProcessPaymentInput(input: ProcessPaymentInput): void {
  if (input.orderId.length === 0 || input.orderId.length > MAX_ID_LENGTH) {
    throw badInput("Invalid order id", "orderId");
  }
  const key = input.idempotencyKey;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) {
    throw badInput(
      `The idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
      "idempotencyKey",
    );
  }
  const method = input.paymentMethod;
  if (method.length === 0 || method.length > MAX_PAYMENT_METHOD_LENGTH || !PRINTABLE_ASCII.test(method)) {
    throw badInput(
      `The payment method must be 1 to ${MAX_PAYMENT_METHOD_LENGTH} printable ASCII characters`,
      "paymentMethod",
    );
  }
}
