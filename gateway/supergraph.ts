import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { SupergraphManager } from "@apollo/gateway";
import { Kind, parse } from "graphql";
import type { Logger } from "pino";

export interface SupergraphState {
  /** Short hash of the SDL being served. */
  readonly version: string;
  readonly loadedAt: Date;
  /** Successful switches since start (the first load is not one). */
  readonly reloads: number;
  /** Files refused since start (unreadable, or rejected by the gateway). */
  readonly refusals: number;
}

export interface FileSupergraphOptions {
  path: string;
  logger: Logger;
  /** Waits for writes to settle before reading. @default 100 */
  debounceMs?: number;
  /**
   * Turns the file's SDL into what `@apollo/gateway` is handed (the file's own SDL still goes to
   * `onUpdate`). @default identity
   */
  prepare?: (sdl: string) => string;
  /** Called after every switch to a new supergraph, with its SDL. */
  onUpdate?: (sdl: string, state: SupergraphState) => void;
}

const versionOf = (sdl: string) => createHash("sha256").update(sdl).digest("hex").slice(0, 12);

/**
 * Serves a supergraph from a file and switches to a new one when the file changes, without a
 * restart. A file the gateway cannot use is refused and the previous supergraph stays in service.
 * Watching the directory (not the file) also catches editors and tools that replace the file.
 */
export class FileSupergraphManager implements SupergraphManager {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private current: SupergraphState | null = null;
  private lastSdl = "";
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: FileSupergraphOptions) {}

  get state(): SupergraphState | null {
    return this.current;
  }

  async initialize({ update }: Parameters<SupergraphManager["initialize"]>[0]) {
    const sdl = await readFile(this.options.path, "utf8");
    const prepared = this.prepare(sdl);
    this.accept(sdl, 0);
    const file = basename(this.options.path);
    this.watcher = watch(dirname(this.options.path), (_event, name) => {
      // A Kubernetes ConfigMap volume swaps its `..data` link and never touches the file's own name.
      if (name !== null && name !== file && name !== "..data") return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.reloading = this.reloading.then(() => this.reload(update));
      }, this.options.debounceMs ?? 100);
    });
    this.watcher.on("error", (error) => this.options.logger.error({ err: error }, "supergraph watcher failed"));
    return {
      supergraphSdl: prepared,
      cleanup: async () => {
        if (this.timer) clearTimeout(this.timer);
        this.watcher?.close();
        await this.reloading;
      },
    };
  }

  private prepare(sdl: string): string {
    return this.options.prepare ? this.options.prepare(sdl) : sdl;
  }

  /** Resolves once any reload in progress has finished (tests and shutdown wait on it). */
  settled(): Promise<void> {
    return this.reloading;
  }

  private accept(sdl: string, reloads: number) {
    this.lastSdl = sdl;
    this.current = Object.freeze({
      version: versionOf(sdl),
      loadedAt: new Date(),
      reloads,
      refusals: this.current?.refusals ?? 0,
    });
    this.options.onUpdate?.(sdl, this.current);
  }

  private refuse(reason: string, error?: unknown) {
    if (this.current) this.current = Object.freeze({ ...this.current, refusals: this.current.refusals + 1 });
    this.options.logger.error(
      { err: error, path: this.options.path, keptVersion: this.current?.version },
      `supergraph refused, previous one kept: ${reason}`,
    );
  }

  private async reload(update: (sdl: string) => void) {
    let sdl: string;
    try {
      sdl = await readFile(this.options.path, "utf8");
    } catch (error) {
      this.refuse("file unreadable", error);
      return;
    }
    if (sdl === this.lastSdl) return;
    if (sdl.trim() === "") {
      this.refuse("file is empty");
      return;
    }
    try {
      update(this.prepare(sdl));
    } catch (error) {
      this.refuse((error as Error).message.split("\n")[0] ?? "invalid supergraph", error);
      return;
    }
    this.accept(sdl, (this.current?.reloads ?? 0) + 1);
    this.options.logger.info({ version: this.current?.version, path: this.options.path }, "supergraph reloaded");
  }
}

/** The subgraphs a supergraph routes to, by name, read from its `join__Graph` enum. */
export function subgraphUrls(supergraphSdl: string): Map<string, string> {
  const urls = new Map<string, string>();
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== "join__Graph") continue;
    for (const value of definition.values ?? []) {
      const graph = value.directives?.find((d) => d.name.value === "join__graph");
      const name = graph?.arguments?.find((a) => a.name.value === "name")?.value;
      const url = graph?.arguments?.find((a) => a.name.value === "url")?.value;
      if (name?.kind === Kind.STRING && url?.kind === Kind.STRING) urls.set(name.value, url.value);
    }
  }
  return urls;
}
