import { pino } from "pino";
import { ConfigError, readServiceConfig, type ServiceConfig } from "../shared/config.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createOrdersService } from "./server.ts";

/** The products subgraph's GraphQL endpoint, from PRODUCTS_URL. */
function readProductsUrl(env: NodeJS.ProcessEnv): string {
  const raw = env.PRODUCTS_URL || "http://127.0.0.1:4002/graphql";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PRODUCTS_URL must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`PRODUCTS_URL must be an http(s) URL, got "${raw}"`);
  }
  return url.href;
}

let config: ServiceConfig;
let productsUrl: string;
try {
  config = readServiceConfig("orders", 4003);
  productsUrl = readProductsUrl(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`orders: ${error.message}`);
  process.exit(1);
}
const logger = pino({ name: "orders", level: config.logLevel });
const service = await createOrdersService({
  databasePath: config.databasePath,
  internalSecret: config.internalSecret,
  productsUrl,
  production: config.production,
  logger,
});
const url = await service.listen(config.port, config.host);
console.log(`orders subgraph ready at ${url}`);

stopOnSignals(service, logger);
