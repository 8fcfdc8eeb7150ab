import { type Logger, pino } from "pino";
import type { z } from "zod";
import { flushCodeCache } from "../../common/code-cache.ts";
import { type Closable, stopOnSignals } from "../../common/lifecycle.ts";
import { ConfigError, readServiceConfig, type ServiceConfig, type ServiceDefinition } from "./config.ts";

/** A built service, ready to listen. */
export interface Listenable extends Closable {
  /** Listens and returns the URL it serves at. */
  listen(port: number, host: string): Promise<string>;
}

export interface RunServiceOptions<S extends z.ZodRawShape, C extends object> extends ServiceDefinition<S, C> {
  /** Builds the service (without listening) from its validated configuration. */
  start(config: Readonly<ServiceConfig & C>, logger: Logger): Promise<Listenable>;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * The whole life of a service process: read and validate its configuration (a bad value stops the
 * process with a message naming the variable), make its logger, build it, listen, and stop it
 * cleanly on a signal or when the launcher goes away. A failure to start stops the process (exit 1).
 * Called at an entry's top level without `await`: the compiled bundle is CommonJS, which has none.
 */
export function runService<S extends z.ZodRawShape, C extends object>(options: RunServiceOptions<S, C>): void {
  serve(options).catch((error: unknown) => {
    console.error(`${options.name}: failed to start:`, error);
    process.exit(1);
  });
}

async function serve<S extends z.ZodRawShape, C extends object>(options: RunServiceOptions<S, C>): Promise<void> {
  let config: Readonly<ServiceConfig & C>;
  try {
    config = readServiceConfig(options, options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${options.name}: ${error.message}`);
    process.exit(1);
  }
  const logger = pino({ name: options.name, level: config.logLevel });
  const service = await options.start(config, logger);
  const url = await service.listen(config.port, config.host);
  console.log(`${options.name} subgraph ready at ${url}`);
  flushCodeCache();
  stopOnSignals(service, logger, options.env);
}
