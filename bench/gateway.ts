/**
 * The gateway on typical federated queries, against itself with @apollo/gateway's default subgraph
 * HTTP client: the reference point for the other benchmarks. `npm run bench`.
 */
import { compare } from "./lib.ts";

const PICTURE = `query Picture { me { name orders { id status totalCents items { quantity product { name priceCents } } payment { status } } } }`;
const CATALOGUE = `query Catalogue { products(first: 20) { nodes { id name priceCents stock } totalCount } }`;

await compare({
  title: "gateway: keep-alive undici subgraph client (baseline) vs @apollo/gateway's default fetcher",
  variants: [{ name: "gateway" }, { name: "default-fetcher", env: { SUBGRAPH_FETCHER: "default" } }],
  scenarios: async ({ login, graphql }) => {
    const token = await login("alice@example.com", "alice-password");
    // A paid order, so the picture spans all four subgraphs (users, orders, products, payments).
    const { placeOrder } = await graphql<{ placeOrder: { id: string } }>(
      `mutation { placeOrder(input: { items: [{ productId: "prod-001", quantity: 1 }, { productId: "prod-002", quantity: 2 }] }) { id } }`,
      {},
      token,
    );
    await graphql(
      `mutation($id: ID!, $key: String!) { processPayment(input: { orderId: $id, idempotencyKey: $key, paymentMethod: "pm_card_ok" }) { id } }`,
      { id: placeOrder.id, key: `bench-${placeOrder.id}` },
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
