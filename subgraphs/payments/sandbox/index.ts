import { pino } from "pino";
import { readPort } from "../../shared/config.ts";
import { createProviderSandbox } from "./server.ts";

const log = pino({ name: "payment-provider-sandbox", level: process.env.LOG_LEVEL || "info" });
const sandbox = createProviderSandbox({
  apiKey: process.env.PAYMENT_PROVIDER_API_KEY || "sk_test_sandbox",
  logger: log,
});
const url = await sandbox.listen(readPort(process.env, "PORT", 4010), process.env.HOST || "127.0.0.1");
console.log(`payment provider sandbox ready at ${url}`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  await sandbox.close();
  process.exit(0);
}
process.once("SIGINT", () => void stop("SIGINT"));
process.once("SIGTERM", () => void stop("SIGTERM"));
