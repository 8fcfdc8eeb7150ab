/**
 * What `npm start` runs, read from `schema/supergraph.yaml`: a subgraph with a folder of its own
 * (`subgraphs/<name>/index.ts`) is started locally; any other is external and only routed to.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { SupergraphEntry } from "../../schema/compose.ts";

/** A process the launcher starts: a local subgraph, or a helper process one of them needs. */
export interface LocalProcess {
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  /** Variable that moves its port, e.g. `PRODUCTS_PORT`. */
  portVar: string;
  port: number;
  /** The port the supergraph.yaml routes to (helpers: their usual port). */
  defaultPort: number;
  /** Path answered with 200 once it serves. */
  readyPath: string;
  /** The subgraph's GraphQL URL (its first instance's); null for helper processes. */
  graphqlUrl: string | null;
  /**
   * Every instance's port (`REPLICAS` of a subgraph, one of a helper); the first is `port`, the
   * others follow it `REPLICA_PORT_STEP` apart.
   */
  ports: number[];
  /** Every instance's GraphQL URL; empty for helper processes. */
  graphqlUrls: string[];
}

export interface ExternalSubgraph {
  name: string;
  url: string;
}

export interface StackPlan {
  /** In start order: each helper just before the subgraph that needs it, else the yaml's order. */
  processes: LocalProcess[];
  external: ExternalSubgraph[];
  /** True when every local subgraph listens where the supergraph.yaml routes to it. */
  defaultPorts: boolean;
}

/** A helper process a subgraph needs running before it starts (the payment provider's sandbox). */
export interface Helper {
  name: string;
  entry: string;
  portVar: string;
  defaultPort: number;
  readyPath: string;
}

export class PlanError extends Error {
  override name = "PlanError";
}

/** `orders` → `ORDERS`, `gift-cards` → `GIFT_CARDS`: the prefix of a subgraph's own variables. */
export const envName = (name: string): string => name.toUpperCase().replace(/[^A-Z0-9]+/g, "_");

export function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new PlanError(`${name} must be a port from 1 to 65535, got "${raw}"`);
  }
  return value;
}

function routedPort(entry: SupergraphEntry): number {
  const url = new URL(entry.routingUrl);
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

export interface PlanOptions {
  /** Repository root, where `subgraphs/<name>/index.ts` is looked for. */
  root: string;
  env: NodeJS.ProcessEnv;
  host: string;
  /** Helper processes by the subgraph that needs them. @default none */
  helpers?: Record<string, Helper[]>;
}

/** Instances of each local subgraph (`REPLICAS`), and how far apart their ports are (`REPLICA_PORT_STEP`). */
export function readReplicas(env: NodeJS.ProcessEnv): { replicas: number; step: number } {
  const replicas = env.REPLICAS ? Number(env.REPLICAS) : 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
    throw new PlanError(`REPLICAS must be an integer from 1 to 16, got "${env.REPLICAS}"`);
  }
  const step = env.REPLICA_PORT_STEP ? Number(env.REPLICA_PORT_STEP) : 100;
  if (!Number.isInteger(step) || step < 1 || step > 10_000) {
    throw new PlanError(`REPLICA_PORT_STEP must be an integer from 1 to 10000, got "${env.REPLICA_PORT_STEP}"`);
  }
  return { replicas, step };
}

export function planStack(entries: readonly SupergraphEntry[], options: PlanOptions): StackPlan {
  const { replicas, step } = readReplicas(options.env);
  const processes: LocalProcess[] = [];
  const external: ExternalSubgraph[] = [];
  let defaultPorts = true;
  for (const entry of entries) {
    const entryFile = `subgraphs/${entry.name}/index.ts`;
    if (!existsSync(resolve(options.root, entryFile))) {
      external.push({ name: entry.name, url: entry.routingUrl });
      continue;
    }
    for (const helper of options.helpers?.[entry.name] ?? []) {
      const port = readPort(options.env, helper.portVar, helper.defaultPort);
      if (port !== helper.defaultPort) defaultPorts = false;
      processes.push({ ...helper, port, graphqlUrl: null, ports: [port], graphqlUrls: [] });
    }
    const defaultPort = routedPort(entry);
    const portVar = `${envName(entry.name)}_PORT`;
    const port = readPort(options.env, portVar, defaultPort);
    if (port !== defaultPort) defaultPorts = false;
    const ports = Array.from({ length: replicas }, (_, k) => port + k * step);
    const last = ports.at(-1)!;
    if (last > 65535)
      throw new PlanError(
        `${entry.name}'s replica ${replicas} would listen on port ${last}: lower REPLICAS or REPLICA_PORT_STEP`,
      );
    const graphqlUrls = ports.map((p) => `http://${options.host}:${p}/graphql`);
    processes.push({
      name: entry.name,
      entry: entryFile,
      portVar,
      port,
      defaultPort,
      readyPath: "/readyz",
      graphqlUrl: graphqlUrls[0]!,
      ports,
      graphqlUrls,
    });
  }
  const taken = new Map<number, string>();
  for (const p of processes) {
    for (const port of p.ports) {
      const other = taken.get(port);
      if (other) throw new PlanError(`${p.name} and ${other} would both listen on port ${port}: set ${p.portVar}`);
      taken.set(port, p.name);
    }
  }
  return { processes, external, defaultPorts };
}

/**
 * Every subgraph's GraphQL URL as `<NAME>_URL` (`PRODUCTS_URL`, `ORDERS_URL`, …): how a service
 * finds the peers it calls, local or external; a subgraph's replicas separated by `|`.
 */
export function peerUrls(plan: StackPlan): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const p of plan.processes) if (p.graphqlUrl) urls[`${envName(p.name)}_URL`] = p.graphqlUrls.join("|");
  for (const e of plan.external) urls[`${envName(e.name)}_URL`] = e.url;
  return urls;
}

/**
 * The gateway's `SUBGRAPH_URLS` for the subgraphs with several replicas (`name=url|url,…`), or
 * null when every subgraph runs once. An operator's own `SUBGRAPH_URLS` comes after, so it wins.
 */
export function replicaUrls(plan: StackPlan, own?: string): string | null {
  const entries = plan.processes
    .filter((p) => p.graphqlUrls.length > 1)
    .map((p) => `${p.name}=${p.graphqlUrls.join("|")}`);
  if (own?.trim()) entries.push(own.trim());
  return entries.length > 0 ? entries.join(",") : null;
}
