// What the services' domain code shares: the SQLite handle, the contract error codes, the rule for order lines.
export { inList, type Migration, SqliteDatabase } from "./db.ts";
export { badInput, domainError, ErrorCode, forbidden, notFound, unauthenticated } from "./errors.ts";
export { MAX_LINES, MAX_QUANTITY, type OrderLine, validateOrderLines } from "./order-lines.ts";
