// The orders subgraph process: orders and their lines, placed against the products service's stock.
import { variable } from "../kit/config.ts";
import { runService } from "../kit/run.ts";
import { createOrdersService } from "./server.ts";

runService({
  name: "orders",
  defaultPort: 4003,
  // Payments reads the order it charges and marks it paid; orders calls products as itself.
  peers: ["payments"],
  signs: true,
  variables: { PRODUCTS_URL: variable.httpUrls("http://127.0.0.1:4002/graphql") },
  settings: (vars) => ({ productsUrl: vars.PRODUCTS_URL }),
  start: (config, logger) => createOrdersService({ ...config, logger }),
});
