import { invalidRequest } from "./errors.ts";

/** The validated parameters of `POST /v1/payment_intents`. */
export interface PaymentIntentParams {
  amount: number;
  /** Lower case, as Stripe returns it. */
  currency: string;
  paymentMethod: string;
  confirm: boolean;
  metadata: Record<string, string>;
}

// Stripe's own limits: eight digits of minor units, 50 metadata keys of 40 characters, values of 500.
const MAX_AMOUNT = 99_999_999;
const MAX_METADATA_KEYS = 50;
const MAX_METADATA_KEY_LENGTH = 40;
const MAX_METADATA_VALUE_LENGTH = 500;

type RawBody = Record<string, unknown>;

function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/**
 * Metadata arrives as `metadata[key]=value` fields in a form body (Stripe's encoding) or as an
 * object in a JSON body; both end up as one null-prototype record of strings.
 */
function readMetadata(body: RawBody): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null);
  const put = (key: string, raw: unknown) => {
    const value = scalar(raw);
    if (value === undefined)
      throw invalidRequest("parameter_invalid_string", "Metadata values must be strings", `metadata[${key}]`);
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH) {
      throw invalidRequest("parameter_invalid_string", "Metadata keys must be 1 to 40 characters", "metadata");
    }
    if (value.length > MAX_METADATA_VALUE_LENGTH) {
      throw invalidRequest(
        "parameter_invalid_string",
        "Metadata values must be at most 500 characters",
        `metadata[${key}]`,
      );
    }
    metadata[key] = value;
  };
  const nested = body.metadata;
  if (nested !== undefined && nested !== "") {
    if (typeof nested !== "object" || nested === null || Array.isArray(nested)) {
      throw invalidRequest("parameter_invalid_string", "metadata must be an object", "metadata");
    }
    for (const [key, value] of Object.entries(nested)) put(key, value);
  }
  for (const [field, value] of Object.entries(body)) {
    const match = /^metadata\[([^\]]*)\]$/.exec(field);
    if (match) put(match[1]!, value);
  }
  if (Object.keys(metadata).length > MAX_METADATA_KEYS) {
    throw invalidRequest("parameter_invalid_string", "At most 50 metadata keys are allowed", "metadata");
  }
  return metadata;
}

/** Validates a create-payment-intent body (form fields or JSON) into typed parameters. */
export function readPaymentIntentParams(input: unknown): PaymentIntentParams {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw invalidRequest("parameter_missing", "Missing required param: amount.", "amount");
  }
  const body = input as RawBody;

  const rawAmount = scalar(body.amount);
  if (rawAmount === undefined || rawAmount === "") {
    throw invalidRequest("parameter_missing", "Missing required param: amount.", "amount");
  }
  if (!/^\d{1,12}$/.test(rawAmount) || Number(rawAmount) < 1) {
    throw invalidRequest("parameter_invalid_integer", "amount must be a positive integer in minor units", "amount");
  }
  const amount = Number(rawAmount);
  if (amount > MAX_AMOUNT) throw invalidRequest("amount_too_large", "amount must be at most 99999999", "amount");

  const rawCurrency = scalar(body.currency);
  if (rawCurrency === undefined || rawCurrency === "") {
    throw invalidRequest("parameter_missing", "Missing required param: currency.", "currency");
  }
  if (!/^[A-Za-z]{3}$/.test(rawCurrency)) {
    throw invalidRequest("parameter_invalid_string", "currency must be a three-letter ISO code", "currency");
  }

  const paymentMethod = scalar(body.payment_method);
  if (paymentMethod === undefined || paymentMethod === "") {
    throw invalidRequest("parameter_missing", "Missing required param: payment_method.", "payment_method");
  }
  if (paymentMethod.length > 255) {
    throw invalidRequest("parameter_invalid_string", "payment_method is too long", "payment_method");
  }

  const rawConfirm = scalar(body.confirm);
  if (rawConfirm !== undefined && rawConfirm !== "true" && rawConfirm !== "false") {
    throw invalidRequest("parameter_invalid_boolean", "confirm must be true or false", "confirm");
  }

  return {
    amount,
    currency: rawCurrency.toLowerCase(),
    paymentMethod,
    confirm: rawConfirm === "true",
    metadata: readMetadata(body),
  };
}

/** A canonical string of the parameters: the same request always gives the same fingerprint. */
export function fingerprint(route: string, params: PaymentIntentParams): string {
  const metadata = Object.keys(params.metadata)
    .sort()
    .map((key) => [key, params.metadata[key]]);
  return JSON.stringify([route, params.amount, params.currency, params.paymentMethod, params.confirm, metadata]);
}
