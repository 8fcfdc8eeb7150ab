import { pino } from "pino";
import { ConfigError, readServiceConfig, readUrl, type ServiceConfig } from "../shared/config.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createPaymentsService } from "./server.ts";

interface PaymentsConfig extends ServiceConfig {
  ordersUrl: string;
  providerUrl: string;
  providerApiKey: string;
}

function readConfig(env = process.env): PaymentsConfig {
  const base = readServiceConfig("payments", 4004, env);
  // The sandbox defaults are for development only: in production the provider must be named.
  if (base.production) {
    for (const name of ["PAYMENT_PROVIDER_URL", "PAYMENT_PROVIDER_API_KEY"]) {
      if (!env[name]) throw new ConfigError(`${name} is required in production`);
    }
  }
  return Object.freeze({
    ...base,
    ordersUrl: readUrl(env, "ORDERS_URL", "http://127.0.0.1:4003/graphql"),
    providerUrl: readUrl(env, "PAYMENT_PROVIDER_URL", "http://127.0.0.1:4010"),
    providerApiKey: env.PAYMENT_PROVIDER_API_KEY || "sk_test_sandbox",
  });
}

let config: PaymentsConfig;
try {
  config = readConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`payments: ${error.message}`);
  process.exit(1);
}
const logger = pino({ name: "payments", level: config.logLevel });
const service = await createPaymentsService({
  ...config.database,
  internalSecret: config.internalSecret,
  ordersUrl: config.ordersUrl,
  provider: { url: config.providerUrl, apiKey: config.providerApiKey },
  production: config.production,
  logger,
});
const url = await service.listen(config.port, config.host);
console.log(`payments subgraph ready at ${url}`);
stopOnSignals(service, logger);
