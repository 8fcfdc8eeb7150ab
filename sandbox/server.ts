import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { type Logger, pino } from "pino";
import { invalidRequest, ProviderHttpError } from "./errors.ts";
import { IdempotencyStore, type IdempotencyStoreOptions } from "./idempotency.ts";
import { fingerprint, type PaymentIntentParams, readPaymentIntentParams } from "./params.ts";

export interface ProviderSandboxOptions {
  /** The secret key clients must send as `Authorization: Bearer <apiKey>`. @default "sk_test_sandbox" */
  apiKey?: string;
  /** @default a pino logger at "info" */
  logger?: Logger;
  /** Lifetime and size of the idempotency-key store. @default 24 hours, 10 000 keys */
  idempotency?: IdempotencyStoreOptions;
  /** Most payment intents and charges kept for inspection; the oldest go first. @default 10_000 */
  maxRecords?: number;
}

export interface ProviderSandboxStats {
  /** Charges attempted (a replayed idempotent request is not a new charge). */
  charges: number;
  succeeded: number;
  failed: number;
}

export interface ProviderSandbox {
  readonly app: FastifyInstance;
  /** Listens and returns the base URL, e.g. `http://127.0.0.1:4010`. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  stats(): ProviderSandboxStats;
}

interface PaymentIntent {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_received: number;
  currency: string;
  status: "requires_confirmation" | "requires_payment_method" | "succeeded";
  payment_method: string;
  latest_charge: string | null;
  last_payment_error: Record<string, unknown> | null;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

interface Charge {
  id: string;
  object: "charge";
  amount: number;
  currency: string;
  status: "succeeded" | "failed";
  paid: boolean;
  payment_intent: string;
  payment_method: string;
  failure_code: string | null;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

interface Outcome {
  statusCode: number;
  body: unknown;
}

/** Stripe's test tokens the sandbox understands. */
const SUCCEEDING_METHODS = new Set(["pm_card_ok", "pm_card_visa"]);
const DECLINING_METHODS = new Set(["pm_card_declined", "pm_card_chargeDeclined"]);
const ROUTE_CREATE = "POST /v1/payment_intents";

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;
const unixNow = () => Math.floor(Date.now() / 1000);
const digest = (value: string) => createHash("sha256").update(value).digest();

/** Keeps at most `max` entries, dropping the oldest: the sandbox must not grow without bound. */
function remember<T>(map: Map<string, T>, key: string, value: T, max: number): void {
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as string);
}

/**
 * Builds (without listening) a stand-in for a card payment provider, shaped like Stripe's
 * PaymentIntents API: the same paths, form encoding, error bodies and idempotency-key rules, so
 * the payments service's client can be pointed at Stripe by changing only its URL and key.
 */
export function createProviderSandbox(options: ProviderSandboxOptions = {}): ProviderSandbox {
  const apiKey = options.apiKey ?? "sk_test_sandbox";
  if (apiKey.length === 0) throw new RangeError("apiKey must not be empty");
  const log = options.logger ?? pino({ name: "payment-provider-sandbox" });
  const maxRecords = options.maxRecords ?? 10_000;
  const idempotency = new IdempotencyStore(options.idempotency);
  const intents = new Map<string, PaymentIntent>();
  const charges = new Map<string, Charge>();
  const counters: ProviderSandboxStats = { charges: 0, succeeded: 0, failed: 0 };
  // Comparing digests keeps the comparison constant-time whatever the length of the header.
  const expectedAuthorization = digest(`Bearer ${apiKey}`);

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    // Object.fromEntries defines own properties, so a `__proto__` field cannot reach a prototype.
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((error: FastifyError | ProviderHttpError, _request, reply) => {
    if (error instanceof ProviderHttpError) return reply.code(error.statusCode).send(error.body);
    const status = error.statusCode ?? 500;
    if (status < 500) {
      return reply.code(status).send(invalidRequest("invalid_request", error.message, undefined, status).body);
    }
    log.error({ err: error }, "sandbox request failed");
    return reply.code(500).send({ error: { type: "api_error", message: "An unexpected error occurred" } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        invalidRequest(
          "resource_missing",
          `Unrecognized request URL (${request.method}: ${request.url})`,
          undefined,
          404,
        ).body,
      ),
  );

  app.get("/healthz", async () => ({ status: "ok" }));

  function charge(intent: PaymentIntent, status: Charge["status"], failureCode: string | null): Charge {
    const record: Charge = {
      id: newId("ch"),
      object: "charge",
      amount: intent.amount,
      currency: intent.currency,
      status,
      paid: status === "succeeded",
      payment_intent: intent.id,
      payment_method: intent.payment_method,
      failure_code: failureCode,
      metadata: intent.metadata,
      created: unixNow(),
      livemode: false,
    };
    remember(charges, record.id, record, maxRecords);
    counters.charges++;
    if (status === "succeeded") counters.succeeded++;
    else counters.failed++;
    log.info({ charge: record.id, paymentIntent: intent.id, status, amount: intent.amount }, "sandbox charge");
    return record;
  }

  function createPaymentIntent(params: PaymentIntentParams): Outcome {
    const succeeds = SUCCEEDING_METHODS.has(params.paymentMethod);
    if (!succeeds && !DECLINING_METHODS.has(params.paymentMethod)) {
      return invalidRequest("resource_missing", `No such PaymentMethod: '${params.paymentMethod}'`, "payment_method");
    }
    const intent: PaymentIntent = {
      id: newId("pi"),
      object: "payment_intent",
      amount: params.amount,
      amount_received: 0,
      currency: params.currency,
      status: "requires_confirmation",
      payment_method: params.paymentMethod,
      latest_charge: null,
      last_payment_error: null,
      metadata: params.metadata,
      created: unixNow(),
      livemode: false,
    };
    remember(intents, intent.id, intent, maxRecords);
    if (!params.confirm) return { statusCode: 200, body: intent };

    if (succeeds) {
      intent.latest_charge = charge(intent, "succeeded", null).id;
      intent.status = "succeeded";
      intent.amount_received = intent.amount;
      return { statusCode: 200, body: intent };
    }
    intent.latest_charge = charge(intent, "failed", "card_declined").id;
    intent.status = "requires_payment_method";
    const error = {
      type: "card_error" as const,
      code: "card_declined",
      decline_code: "generic_decline",
      message: "Your card was declined.",
    };
    intent.last_payment_error = error;
    return { statusCode: 402, body: { error: { ...error, charge: intent.latest_charge, payment_intent: intent } } };
  }

  app.register(
    async (v1) => {
      v1.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
        const header = request.headers.authorization;
        if (typeof header !== "string" || !timingSafeEqual(digest(header), expectedAuthorization)) {
          return reply.code(401).send({
            error: {
              type: "invalid_request_error",
              code: "api_key_invalid",
              message: "Invalid API Key provided; send it as Authorization: Bearer <key>",
            },
          });
        }
        return undefined;
      });

      // No await anywhere in this handler: the idempotency check, the charge and the store all
      // run in one synchronous stretch, so concurrent duplicates of a key cannot both charge.
      v1.post("/payment_intents", async (request, reply) => {
        const params = readPaymentIntentParams(request.body);
        const key = request.headers["idempotency-key"];
        if (key === undefined) {
          const outcome = createPaymentIntent(params);
          return reply.code(outcome.statusCode).send(outcome.body);
        }
        if (typeof key !== "string" || key.length === 0 || key.length > 255) {
          throw invalidRequest("idempotency_key_invalid", "Idempotency-Key must be 1 to 255 characters");
        }
        const print = fingerprint(ROUTE_CREATE, params);
        const stored = idempotency.get(key);
        if (stored) {
          if (stored.fingerprint !== print) {
            throw new ProviderHttpError(400, {
              error: {
                type: "idempotency_error",
                code: "idempotency_key_in_use",
                message:
                  "Keys for idempotent requests can only be used with the same parameters they were first used with",
              },
            });
          }
          return reply.code(stored.statusCode).header("idempotent-replayed", "true").send(stored.body);
        }
        const outcome = createPaymentIntent(params);
        idempotency.set(key, { fingerprint: print, ...outcome });
        return reply.code(outcome.statusCode).send(outcome.body);
      });

      // Stripe's Search API, the one query form a client needs to find what became of an
      // idempotent request: the metadata it tagged the intent with (`metadata['key']:'value'`).
      v1.get<{ Querystring: { query?: string; limit?: string } }>("/payment_intents/search", async (request) => {
        const match = /^metadata\['([^'\\]{1,40})'\]:'([^'\\]{0,500})'$/.exec(request.query.query ?? "");
        if (!match) {
          throw invalidRequest(
            "parameter_invalid_string",
            "query must have the form metadata['key']:'value' in this sandbox",
            "query",
          );
        }
        const [, key, value] = match;
        const limit = Number(request.query.limit ?? "10");
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
          throw invalidRequest("parameter_invalid_integer", "limit must be an integer from 1 to 100", "limit");
        }
        const found = [...intents.values()].reverse().filter((intent) => intent.metadata[key!] === value);
        return {
          object: "search_result",
          url: "/v1/payment_intents/search",
          data: found.slice(0, limit),
          has_more: found.length > limit,
          next_page: null,
        };
      });

      v1.get<{ Params: { id: string } }>("/payment_intents/:id", async (request) => {
        const intent = intents.get(request.params.id);
        if (!intent)
          throw invalidRequest("resource_missing", `No such payment_intent: '${request.params.id}'`, "id", 404);
        return intent;
      });

      v1.get<{ Querystring: { limit?: string; starting_after?: string; payment_intent?: string } }>(
        "/charges",
        async (request) => {
          const { limit: rawLimit = "10", starting_after: after, payment_intent: intentId } = request.query;
          const limit = Number(rawLimit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
            throw invalidRequest("parameter_invalid_integer", "limit must be an integer from 1 to 100", "limit");
          }
          let list = [...charges.values()].reverse();
          if (intentId) list = list.filter((c) => c.payment_intent === intentId);
          if (after) list = list.slice(list.findIndex((c) => c.id === after) + 1);
          return { object: "list", url: "/v1/charges", data: list.slice(0, limit), has_more: list.length > limit };
        },
      );
    },
    { prefix: "/v1" },
  );

  return {
    app,
    async listen(port = 0, host = "127.0.0.1") {
      await app.listen({ port, host });
      const address = app.server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
      log.info({ url }, "payment provider sandbox listening");
      return url;
    },
    close: () => app.close(),
    stats: () => ({ ...counters }),
  };
}
