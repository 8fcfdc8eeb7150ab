import { pino } from "pino";
import { ConfigError, readServiceConfig, type ServiceConfig } from "../shared/config.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createProductsService } from "./server.ts";

let config: ServiceConfig;
try {
  config = readServiceConfig("products", 4002);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`products: ${error.message}`);
  process.exit(1);
}
const logger = pino({ name: "products", level: config.logLevel });
const service = await createProductsService({
  ...config.database,
  internalSecret: config.internalSecret,
  production: config.production,
  logger,
});
const url = await service.listen(config.port, config.host);
console.log(`products subgraph ready at ${url}`);

stopOnSignals(service, logger);
