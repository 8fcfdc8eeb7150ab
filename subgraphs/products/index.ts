// The products subgraph process: the catalogue, prices in integer cents, stock and its reservations.
import { runService } from "../kit/run.ts";
import { createProductsService } from "./server.ts";

await runService({
  name: "products",
  defaultPort: 4002,
  // Orders reserves and releases stock with its own identity.
  peers: ["orders"],
  start: (config, logger) => createProductsService({ ...config, logger }),
});
