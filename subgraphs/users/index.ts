// The users subgraph process: accounts, passwords, login, token signing keys and the OAuth server.
import { runService } from "../kit/run.ts";
import { usersService } from "./config.ts";
import { createUsersService } from "./server.ts";

runService({
  ...usersService,
  start: (config, logger) =>
    createUsersService({
      ...config,
      logger,
      // The seeded accounts have well-known passwords: development data only.
      seed: !config.production,
      oauthClients: config.oauth.clients,
      oauthTokenTtlSeconds: config.oauth.tokenTtlSeconds,
    }),
});
