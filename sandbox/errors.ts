/** The error body shape of Stripe's API, so a client written for the sandbox works against Stripe. */
export interface ProviderErrorBody {
  error: {
    type: "invalid_request_error" | "card_error" | "idempotency_error" | "api_error";
    code?: string;
    decline_code?: string;
    param?: string;
    message: string;
    payment_intent?: unknown;
  };
}

/** A refusal with its HTTP status; thrown by request parsing, answered by the sandbox's error handler. */
export class ProviderHttpError extends Error {
  override name = "ProviderHttpError";
  constructor(
    readonly statusCode: number,
    readonly body: ProviderErrorBody,
  ) {
    super(body.error.message);
  }
}

export function invalidRequest(code: string, message: string, param?: string, statusCode = 400): ProviderHttpError {
  return new ProviderHttpError(statusCode, {
    error: { type: "invalid_request_error", code, message, ...(param ? { param } : {}) },
  });
}
