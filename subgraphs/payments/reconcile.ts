import type { PaymentProvider } from "./provider.ts";
import type { PaymentRecord, PaymentRepository } from "./repository.ts";

/**
 * Settles a PROCESSING payment by asking the provider what became of its idempotency key (the
 * payment's id): the provider's answer is recorded, so a payment charged by a process that died
 * before writing it down is SUCCEEDED, never charged twice. Null when the provider has no charge
 * for it: the request never reached the provider, and charging under the same key is safe.
 */
export async function reconcilePayment(
  payment: PaymentRecord,
  repository: PaymentRepository,
  provider: PaymentProvider,
): Promise<PaymentRecord | null> {
  if (payment.status !== "PROCESSING") return payment;
  const found = await provider.findCharge(payment.id);
  if (!found) return null;
  if (found.status === "succeeded") return repository.markSucceeded(payment.id, found.providerPaymentId!);
  return repository.markFailed(payment.id, found.declineCode ?? "card_declined", found.providerPaymentId);
}
