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
  /** The subgraph's GraphQL URL; null for helper processes. */
  graphqlUrl: string | null;
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

export function planStack(entries: readonly SupergraphEntry[], options: PlanOptions): StackPlan {
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
      processes.push({ ...helper, port, graphqlUrl: null });
    }
    const defaultPort = routedPort(entry);
    const portVar = `${envName(entry.name)}_PORT`;
    const port = readPort(options.env, portVar, defaultPort);
    if (port !== defaultPort) defaultPorts = false;
    processes.push({
      name: entry.name,
      entry: entryFile,
      portVar,
      port,
      defaultPort,
      readyPath: "/readyz",
      graphqlUrl: `http://${options.host}:${port}/graphql`,
    });
  }
  const taken = new Map<number, string>();
  for (const p of processes) {
    const other = taken.get(p.port);
    if (other) throw new PlanError(`${p.name} and ${other} would both listen on port ${p.port}: set ${p.portVar}`);
    taken.set(p.port, p.name);
  }
  return { processes, external, defaultPorts };
}

/**
 * Every subgraph's GraphQL URL as `<NAME>_URL` (`PRODUCTS_URL`, `ORDERS_URL`, …): how a service
 * finds the peers it calls, local or external.
 */
export function peerUrls(plan: StackPlan): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const p of plan.processes) if (p.graphqlUrl) urls[`${envName(p.name)}_URL`] = p.graphqlUrl;
  for (const e of plan.external) urls[`${envName(e.name)}_URL`] = e.url;
  return urls;
}
