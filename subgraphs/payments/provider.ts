import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { Agent, request } from "undici";
import { badInput, domainError, ErrorCode } from "../shared/errors.ts";

export interface PaymentProviderOptions {
  /** Base URL of a Stripe-compatible API: the sandbox (`http://127.0.0.1:4010`) or `https://api.stripe.com`. */
  url: string;
  /** Secret key, sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Time allowed for each attempt. @default 10_000 */
  timeoutMs?: number;
  /** Attempts per charge, the first included. @default 3 */
  maxAttempts?: number;
  /** Wait before the first retry; it doubles for each further one. @default 100 */
  retryDelayMs?: number;
  /** Where provider failures are logged (clients never see their details). @default no logging */
  logger?: Logger;
}

export interface ChargeRequest {
  /** Minor units of `currency`. */
  amountCents: number;
  /** ISO 4217 code, either case. */
  currency: string;
  paymentMethod: string;
  /** Sent as `Idempotency-Key`: the provider charges at most once for it. */
  idempotencyKey: string;
  metadata: Record<string, string>;
}

export interface ChargeResult {
  /** The provider's payment (intent) id; null only when a decline came without one. */
  providerPaymentId: string | null;
  status: "succeeded" | "declined";
  declineCode?: string;
}

export interface PaymentProvider {
  /**
   * Creates and confirms a charge. Resolves on success and on a card decline; throws
   * BAD_USER_INPUT for an unknown payment method or a key reused with other details, and
   * SUBGRAPH_UNAVAILABLE for anything else.
   */
  createCharge(charge: ChargeRequest): Promise<ChargeResult>;
  /**
   * What became of the charges tagged `metadata.payment_id = paymentId` (the payments service's
   * row, which is also the idempotency key): succeeded if any did, declined if one was declined,
   * null when the provider has none (the request never reached it). Charges nothing. Throws
   * SUBGRAPH_UNAVAILABLE when the provider cannot tell.
   */
  findCharge(paymentId: string): Promise<ChargeResult | null>;
  close(): Promise<void>;
}

interface ProviderError {
  type?: string;
  code?: string;
  decline_code?: string;
  param?: string;
  payment_intent?: { id?: string };
}

interface ProviderBody {
  id?: string;
  status?: string;
  error?: ProviderError;
}

/** Responses worth another attempt: retrying is safe because every attempt carries the same key. */
const retryable = (status: number) => status >= 500 || status === 409;

/**
 * A client for a Stripe-compatible PaymentIntents API over a keep-alive connection pool. Form
 * encoded like Stripe's own clients, so pointing it at Stripe takes only `url` and `apiKey`.
 */
export function createPaymentProvider(options: PaymentProviderOptions): PaymentProvider {
  const endpoint = new URL("/v1/payment_intents", options.url).toString();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 100;
  const log = options.logger;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 16 });

  const unavailable = (reason: string, details: Record<string, unknown>) => {
    log?.error({ ...details, provider: endpoint }, `payment provider failed: ${reason}`);
    return domainError(ErrorCode.SUBGRAPH_UNAVAILABLE, "The payment provider is unavailable; retry with the same key", {
      service: "payment-provider",
    });
  };

  function interpret(status: number, body: ProviderBody | null): ChargeResult {
    if (status === 200 && body?.status === "succeeded" && typeof body.id === "string") {
      return { providerPaymentId: body.id, status: "succeeded" };
    }
    // A confirmed intent that still needs a payment method is Stripe's other way of declining.
    if (status === 200 && body?.status === "requires_payment_method" && typeof body.id === "string") {
      return { providerPaymentId: body.id, status: "declined", declineCode: "requires_payment_method" };
    }
    const error = body?.error;
    if (status === 402 && error?.type === "card_error") {
      return {
        providerPaymentId: error.payment_intent?.id ?? null,
        status: "declined",
        declineCode: error.decline_code ?? error.code ?? "card_declined",
      };
    }
    if (status === 400 && error?.type === "idempotency_error") {
      throw badInput("This idempotency key was already used with other payment details", "idempotencyKey");
    }
    if (status === 400 && error?.param === "payment_method") {
      throw badInput("Unknown payment method", "paymentMethod");
    }
    throw unavailable("unexpected response", { status, type: error?.type, code: error?.code, intent: body?.status });
  }

  return {
    async createCharge(charge) {
      const form = new URLSearchParams({
        amount: String(charge.amountCents),
        currency: charge.currency.toLowerCase(),
        payment_method: charge.paymentMethod,
        confirm: "true",
        // Stripe otherwise expects a return_url for redirect-based methods; cards need none.
        "payment_method_types[]": "card",
      });
      for (const [key, value] of Object.entries(charge.metadata)) form.append(`metadata[${key}]`, value);
      const body = form.toString();

      for (let attempt = 1; ; attempt++) {
        let status: number;
        let payload: ProviderBody | null;
        try {
          const res = await request(endpoint, {
            method: "POST",
            dispatcher,
            headers: {
              authorization: `Bearer ${options.apiKey}`,
              "content-type": "application/x-www-form-urlencoded",
              "idempotency-key": charge.idempotencyKey,
            },
            body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          status = res.statusCode;
          payload = (await res.body.json().catch(() => null)) as ProviderBody | null;
        } catch (error) {
          if (attempt < maxAttempts) {
            log?.warn({ err: error, attempt }, "payment provider unreachable, retrying");
            await delay(backoff(retryDelayMs, attempt));
            continue;
          }
          throw unavailable("unreachable", { err: error, attempts: attempt });
        }
        if (retryable(status) && attempt < maxAttempts) {
          log?.warn({ status, attempt }, "payment provider answered with a retryable status, retrying");
          await delay(backoff(retryDelayMs, attempt));
          continue;
        }
        return interpret(status, payload);
      }
    },
    async findCharge(paymentId) {
      const search = new URL("/v1/payment_intents/search", options.url);
      search.searchParams.set("query", `metadata['payment_id']:'${paymentId.replaceAll("'", "")}'`);
      let status: number;
      let payload: { data?: ProviderBody[] } | null;
      try {
        const res = await request(search, {
          method: "GET",
          dispatcher,
          headers: { authorization: `Bearer ${options.apiKey}` },
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.statusCode;
        payload = (await res.body.json().catch(() => null)) as { data?: ProviderBody[] } | null;
      } catch (error) {
        throw unavailable("unreachable", { err: error, lookup: paymentId });
      }
      if (status !== 200 || !Array.isArray(payload?.data)) {
        throw unavailable("unexpected lookup response", { status, lookup: paymentId });
      }
      const intents = payload.data.filter((intent) => typeof intent.id === "string");
      const succeeded = intents.find((intent) => intent.status === "succeeded");
      if (succeeded) return { providerPaymentId: succeeded.id!, status: "succeeded" };
      const declined = intents.find((intent) => intent.status === "requires_payment_method");
      if (declined) return { providerPaymentId: declined.id!, status: "declined", declineCode: "card_declined" };
      return null;
    },
    close: () => dispatcher.close(),
  };
}

/** Exponential with jitter, so a crowd of retries does not arrive all at once. */
function backoff(base: number, attempt: number): number {
  return Math.round(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
}
