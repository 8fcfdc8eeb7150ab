export {
  MAX_LINES,
  MAX_QUANTITY,
  type OrderLine as OrderLineInput,
  validateOrderLines,
} from "../shared/order-lines.ts";
