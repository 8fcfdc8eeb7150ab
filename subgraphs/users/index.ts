import { pino } from "pino";
import { ConfigError } from "../shared/config.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { readUsersConfig, type UsersConfig } from "./config.ts";
import { createUsersService } from "./server.ts";

function loadConfig(): UsersConfig {
  try {
    return readUsersConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`users: ${error.message}`);
    process.exit(1);
  }
}

const config = loadConfig();
const logger = pino({ name: "users", level: config.logLevel });
const service = await createUsersService({
  ...config.database,
  internalSecret: config.internalSecret,
  production: config.production,
  logger,
  // The seeded accounts have well-known passwords: development data only.
  seed: !config.production,
  tokenIssuer: config.tokenIssuer,
  tokenAudience: config.tokenAudience,
  tokenTtlSeconds: config.tokenTtlSeconds,
  oauthClients: config.oauth.clients,
  oauthTokenTtlSeconds: config.oauth.tokenTtlSeconds,
});
const url = await service.listen(config.port, config.host);
console.log(`users subgraph ready at ${url}`);
stopOnSignals(service, logger);
