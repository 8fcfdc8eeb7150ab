import { pino } from "pino";
import { ConfigError, readServiceConfig, type ServiceConfig } from "../shared/config.ts";
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
  databasePath: config.databasePath,
  internalSecret: config.internalSecret,
  production: config.production,
  logger,
});
const url = await service.listen(config.port, config.host);
console.log(`products subgraph ready at ${url}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  await service.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
