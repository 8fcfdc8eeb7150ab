// The payments subgraph process: payments, charged through a Stripe-like provider, marking orders paid.
import { z } from "zod";
import { ConfigError, variable } from "../kit/config.ts";
import { runService } from "../kit/run.ts";
import { createPaymentsService } from "./server.ts";

runService({
  name: "payments",
  defaultPort: 4004,
  // Payments calls orders as itself.
  signs: true,
  variables: {
    ORDERS_URL: variable.httpUrls("http://127.0.0.1:4003/graphql"),
    PAYMENT_PROVIDER_URL: variable.optionalHttpUrl(),
    PAYMENT_PROVIDER_API_KEY: z.string().optional(),
  },
  settings: (vars, { production }) => {
    // The sandbox defaults are for development only: in production the provider must be named.
    if (production && vars.PAYMENT_PROVIDER_URL === undefined) {
      throw new ConfigError("PAYMENT_PROVIDER_URL is required in production");
    }
    if (production && vars.PAYMENT_PROVIDER_API_KEY === undefined) {
      throw new ConfigError("PAYMENT_PROVIDER_API_KEY is required in production");
    }
    return {
      ordersUrl: vars.ORDERS_URL,
      provider: {
        url: vars.PAYMENT_PROVIDER_URL ?? "http://127.0.0.1:4010/",
        apiKey: vars.PAYMENT_PROVIDER_API_KEY ?? "sk_test_sandbox",
      },
    };
  },
  start: (config, logger) => createPaymentsService({ ...config, logger }),
});
