// The request-id and traceparent rules are the ones every service applies (common/).
export { REQUEST_ID_HEADER, requestIdOf, traceIdOf } from "../../common/index.ts";
