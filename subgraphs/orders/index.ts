import { pino } from "pino";
import { ConfigError, readServiceConfig, readUrl, type ServiceConfig } from "../shared/config.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createOrdersService } from "./server.ts";

let config: ServiceConfig;
let productsUrl: string;
try {
  config = readServiceConfig("orders", 4003);
  productsUrl = readUrl(process.env, "PRODUCTS_URL", "http://127.0.0.1:4002/graphql");
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`orders: ${error.message}`);
  process.exit(1);
}
const logger = pino({ name: "orders", level: config.logLevel });
const service = await createOrdersService({
  ...config.database,
  internalSecret: config.internalSecret,
  productsUrl,
  production: config.production,
  logger,
});
const url = await service.listen(config.port, config.host);
console.log(`orders subgraph ready at ${url}`);

stopOnSignals(service, logger);
