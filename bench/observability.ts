/**
 * What logging and metrics cost: the gateway with the request log and per-request metrics off
 * (baseline), with metrics only, and with both (the default), on the same federated queries.
 * `node --import tsx bench/observability.ts` (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS).
 * The request log goes to the gateway's stdout (here /dev/null): serialising each line is counted.
 */
import { compare } from "./lib.ts";

const PICTURE = `query Picture { me { name orders { id status totalCents items { quantity product { name priceCents } } payment { status } } } }`;
const CATALOGUE = `query Catalogue { products(first: 20) { nodes { id name priceCents stock } totalCount } }`;

await compare({
  title: "observability: request log and metrics off (baseline) vs metrics only vs both (default)",
  variants: [
    { name: "log+metrics off", env: { LOG_REQUESTS: "false", METRICS_ENABLED: "false" } },
    { name: "metrics only", env: { LOG_REQUESTS: "false", METRICS_ENABLED: "true" } },
    { name: "log+metrics on", env: { LOG_REQUESTS: "true", METRICS_ENABLED: "true", LOG_LEVEL: "info" } },
  ],
  scenarios: async ({ login, graphql }) => {
    const token = await login("alice@example.com", "alice-password");
    const { placeOrder } = await graphql<{ placeOrder: { id: string } }>(
      `mutation { placeOrder(input: { items: [{ productId: "prod-001", quantity: 1 }, { productId: "prod-002", quantity: 2 }] }) { id } }`,
      {},
      token,
    );
    await graphql(
      `mutation($id: ID!, $key: String!) { processPayment(input: { orderId: $id, idempotencyKey: $key, paymentMethod: "pm_card_ok" }) { id } }`,
      { id: placeOrder.id, key: placeOrder.id },
      token,
    );
    return [
      { name: "catalogue (1 fetch)", path: "/graphql", body: JSON.stringify({ query: CATALOGUE }) },
      {
        name: "me+orders+items+payment (4 fetches)",
        path: "/graphql",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: PICTURE }),
      },
    ];
  },
});
