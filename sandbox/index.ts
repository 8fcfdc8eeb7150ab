// The payment-provider sandbox process: a local stand-in for a Stripe-like provider, not a subgraph.
import { pino } from "pino";
import { z } from "zod";
import { flushCodeCache } from "../common/code-cache.ts";
import { isLoopbackHost } from "../common/identity-keys.ts";
import { stopOnSignals } from "../common/lifecycle.ts";
import { createProviderSandbox } from "./server.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Everything the sandbox reads from the environment (an empty variable counts as unset). */
const Variables = z.object({
  PORT: z
    .string()
    .regex(/^\d+$/, { error: (issue) => `must be a port number from 0 to 65535, got "${String(issue.input)}"` })
    .transform(Number)
    .refine((port) => port <= 65535, {
      error: (issue) => `must be a port number from 0 to 65535, got "${String(issue.input)}"`,
    })
    .default(4010),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: (issue) => `must be one of ${LOG_LEVELS.join(", ")}, got "${String(issue.input)}"` })
    .default("info"),
  PAYMENT_PROVIDER_API_KEY: z.string().optional(),
});

const present = Object.fromEntries(
  Object.entries(process.env).filter(([, value]) => value !== undefined && value !== ""),
);
const parsed = Variables.safeParse(present);
if (!parsed.success) {
  const issue = parsed.error.issues[0]!;
  console.error(`payment provider sandbox: ${issue.path.join(".")} ${issue.message}`);
  process.exit(1);
}
// The default key is public: like the identity keys, only for a sandbox only this machine reaches.
if (parsed.data.PAYMENT_PROVIDER_API_KEY === undefined && !isLoopbackHost(parsed.data.HOST)) {
  console.error(
    `payment provider sandbox: PAYMENT_PROVIDER_API_KEY is required when listening on ${parsed.data.HOST}, not loopback`,
  );
  process.exit(1);
}
const config = Object.freeze({
  ...parsed.data,
  PAYMENT_PROVIDER_API_KEY: parsed.data.PAYMENT_PROVIDER_API_KEY ?? "sk_test_sandbox",
});
const logger = pino({ name: "payment-provider-sandbox", level: config.LOG_LEVEL });
const sandbox = createProviderSandbox({ apiKey: config.PAYMENT_PROVIDER_API_KEY, logger });
// No top-level await: the compiled bundle is CommonJS.
sandbox.listen(config.PORT, config.HOST).then(
  (url) => {
    console.log(`payment provider sandbox ready at ${url}`);
    flushCodeCache();
    stopOnSignals(sandbox, logger);
  },
  (error: unknown) => {
    console.error("payment provider sandbox: failed to start:", error);
    process.exit(1);
  },
);
