// The products subgraph process: the catalogue, prices in integer cents, stock and its reservations.
import { variable } from "../kit/config.ts";
import { runService } from "../kit/run.ts";
import { createProductsService } from "./server.ts";

runService({
  name: "products",
  defaultPort: 4002,
  // A day at most: a longer hold would keep unsold stock off sale for no reason.
  variables: { RESERVATION_TTL_SECONDS: variable.seconds(300, 86_400) },
  settings: (vars) => ({ reservationTtlSeconds: vars.RESERVATION_TTL_SECONDS }),
  // Orders reserves and releases stock with its own identity.
  peers: ["orders"],
  start: (config, logger) => createProductsService({ ...config, logger }),
});
