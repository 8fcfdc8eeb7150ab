// What the services' domain code shares: the database handle (SQLite or PostgreSQL), the contract error codes, the rule for order lines.
export { Database, type DatabaseOptions, type Engine, type Migration } from "./db.ts";
export { badInput, domainError, ErrorCode, forbidden, notFound, unauthenticated } from "./errors.ts";
export { MAX_LINES, MAX_QUANTITY, type OrderLine, validateOrderLines } from "./order-lines.ts";
