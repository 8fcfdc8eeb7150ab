import type { ApolloServerPlugin } from "@apollo/server";

/**
 * When an operation produced no data because a subgraph could not be reached, answer 503 rather
 * than 200: load balancers and clients can then retry elsewhere. Partial results stay 200.
 */
export function subgraphUnavailableStatus(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== "single") return;
          const { data, errors } = response.body.singleResult;
          if (data == null && errors?.some((e) => e.extensions?.code === "SUBGRAPH_UNAVAILABLE")) {
            response.http.status = 503;
          }
        },
      };
    },
  };
}
