// What the status page shows, and where the gateway's own state provides it.
import { type SupergraphState, subgraphUrls } from "../supergraph.ts";
import type { TrafficSnapshot, TrafficWindow } from "./traffic.ts";

export interface InstanceStatus {
  url: string;
  /**
   * Whether the balancer sends requests to it: false while it is left out after failing; null
   * for a subgraph with a single instance (nothing to balance).
   */
  inRotation: boolean | null;
  /** Its `/healthz` when asked: up (2xx), down (no answer or 5xx), unknown (no health endpoint). */
  health: "up" | "down" | "unknown";
  /** HTTP status of the probe, or why there was none. */
  detail: string;
  latencyMs: number;
}

export interface SubgraphStatus {
  name: string;
  instances: InstanceStatus[];
}

export interface SupergraphStatus {
  version: string;
  loadedAt: string;
  reloads: number;
  refusals: number;
  subgraphs: string[];
}

/** Everything the status page needs; the gateway implements it from what it already tracks. */
export interface StatusSource {
  subgraphs(): Promise<SubgraphStatus[]>;
  supergraph(): SupergraphStatus | null;
  traffic(): TrafficSnapshot;
}

export interface GatewayStatusOptions {
  /** The supergraph being served. */
  supergraph: () => SupergraphState | null;
  /** Its SDL (the routing URLs of its subgraphs). */
  supergraphSdl: () => string;
  /** Instances given by SUBGRAPH_URLS, overriding the supergraph's routing URL. @default none */
  subgraphUrls?: ReadonlyMap<string, readonly string[]>;
  /** Balancers of the subgraphs with several instances (their passive health). @default none */
  pools?: ReadonlyMap<string, { health(): { url: string; healthy: boolean }[] }>;
  traffic: TrafficWindow;
  /** How long a health probe may take. @default 1000 */
  probeTimeoutMs?: number;
}

/** A StatusSource over the gateway's supergraph manager, instance pools and traffic window. */
export function gatewayStatus(options: GatewayStatusOptions): StatusSource {
  const probeTimeoutMs = options.probeTimeoutMs ?? 1000;
  let parsed: { sdl: string; urls: Map<string, string> } | null = null;
  const routing = (): Map<string, string> => {
    const sdl = options.supergraphSdl();
    if (parsed?.sdl !== sdl) parsed = { sdl, urls: sdl ? subgraphUrls(sdl) : new Map() };
    return parsed.urls;
  };

  return {
    async subgraphs() {
      return Promise.all(
        [...routing()].map(async ([name, url]) => {
          const urls = options.subgraphUrls?.get(name) ?? [url];
          const rotation = new Map(
            options.pools
              ?.get(name)
              ?.health()
              .map((h) => [h.url, h.healthy]),
          );
          const instances = await Promise.all(
            urls.map(async (instance) => ({
              url: instance,
              inRotation: rotation.get(instance) ?? null,
              ...(await probe(instance, probeTimeoutMs)),
            })),
          );
          return { name, instances };
        }),
      );
    },
    supergraph() {
      const state = options.supergraph();
      if (!state) return null;
      return {
        version: state.version,
        loadedAt: state.loadedAt.toISOString(),
        reloads: state.reloads,
        refusals: state.refusals,
        subgraphs: [...routing().keys()],
      };
    },
    traffic: () => options.traffic.snapshot(),
  };
}

/** Asks an instance's `/healthz` (every service of the shop has one; an external one may not). */
async function probe(url: string, timeoutMs: number): Promise<Pick<InstanceStatus, "health" | "detail" | "latencyMs">> {
  const started = performance.now();
  const latency = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await fetch(new URL("/healthz", url), { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    const health = response.ok ? "up" : response.status >= 500 ? "down" : "unknown";
    return { health, detail: `HTTP ${response.status}`, latencyMs: latency() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason = (error as Error).name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : (cause ?? "unreachable");
    return { health: "down", detail: reason, latencyMs: latency() };
  }
}
