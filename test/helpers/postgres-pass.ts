/**
 * Runs test files on PostgreSQL: `node --import tsx test/helpers/postgres-pass.ts FILE...`.
 * DATABASE_URL defaults to the machine's server; every schema the run creates starts with one
 * prefix of its own, so runs can share a database, and they are all dropped at the end, pass or
 * fail. A server that cannot be reached fails the run: this pass never skips.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { dropSchemas } from "./database.ts";

const url = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const prefix = `ci_${randomBytes(4).toString("hex")}_`;
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: postgres-pass.ts TEST_FILE...");
  process.exit(2);
}

const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
try {
  await probe.connect();
  await probe.query("SELECT 1");
} catch (error) {
  console.error(`PostgreSQL at ${url} is required for this pass: ${error}`);
  process.exit(1);
} finally {
  await probe.end().catch(() => {});
}
console.log(`PostgreSQL pass on ${url.replace(/\/\/[^@/]*@/, "//")}, schemas ${prefix}*`);

const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
  env: { ...process.env, DATABASE_URL: url, DATABASE_SCHEMA_PREFIX: prefix },
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => child.on("exit", (status) => resolve(status ?? 1)));

const left = await dropSchemas(url, prefix).catch((error: unknown) => {
  console.error(`could not drop schemas ${prefix}*: ${error}`);
  return -1;
});
if (left > 0) console.log(`dropped ${left} schema(s) the tests left behind`);
process.exit(code);
