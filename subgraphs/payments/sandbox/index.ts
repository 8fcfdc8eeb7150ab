import { pino } from "pino";
import { ConfigError, readPort } from "../../shared/config.ts";
import { stopOnSignals } from "../../shared/lifecycle.ts";
import { createProviderSandbox } from "./server.ts";

let port: number;
try {
  port = readPort(process.env, "PORT", 4010);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`payment provider sandbox: ${error.message}`);
  process.exit(1);
}
const logger = pino({ name: "payment-provider-sandbox", level: process.env.LOG_LEVEL || "info" });
const sandbox = createProviderSandbox({
  apiKey: process.env.PAYMENT_PROVIDER_API_KEY || "sk_test_sandbox",
  logger,
});
const url = await sandbox.listen(port, process.env.HOST || "127.0.0.1");
console.log(`payment provider sandbox ready at ${url}`);
stopOnSignals(sandbox, logger);
