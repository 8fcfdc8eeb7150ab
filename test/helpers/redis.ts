import { Redis } from "ioredis";

/** The Redis the tests use: the machine's own unless TEST_REDIS_URL says otherwise. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Redis must be there in CI; elsewhere the tests that need it skip, saying why. */
async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch (error) {
    if (process.env.CI === "true") throw new Error(`Redis at ${REDIS_URL} is required in CI: ${error}`);
    return false;
  } finally {
    probe.disconnect();
  }
}

/** `skip` for node:test: false when Redis answers, else the reason. */
export const redisSkip: false | string = (await redisAvailable())
  ? false
  : `no Redis at ${REDIS_URL} (set TEST_REDIS_URL; required when CI=true)`;
