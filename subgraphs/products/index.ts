// The products subgraph process: the catalogue, prices in integer cents, stock and its reservations.
import { runService } from "../kit/run.ts";
import { createProductsService } from "./server.ts";

await runService({
  name: "products",
  defaultPort: 4002,
  start: (config, logger) => createProductsService({ ...config, logger }),
});
