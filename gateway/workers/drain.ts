import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

export interface ConnectionDrainOptions {
  /**
   * A kept-alive connection idle this long is taken as unused and closed; one answered more
   * recently is given this long to carry its client's next request (answered with
   * `Connection: close`). @default 100
   */
  quietMs?: number;
  /** The longest the drain waits for busy and recently used connections. @default 2000 */
  maxMs?: number;
}

export interface ConnectionDrain {
  /**
   * Stops accepting connections and lets the open ones end cleanly: every answer from now on says
   * `Connection: close`, and the drain resolves once each remaining connection is closed or has
   * been idle `quietMs` (those, and requests still running, are left to the server's own close).
   */
  drain(): Promise<void>;
}

/**
 * Closing an HTTP server closes its idle kept-alive connections at once (http.Server#close): a
 * client that is writing its next request on one right then sees the connection reset under the
 * request. Draining first lets a client in a steady loop finish its current request, read
 * `Connection: close` and open its next connection elsewhere (another worker, another instance).
 */
export function connectionDrain(server: Server, options: ConnectionDrainOptions = {}): ConnectionDrain {
  const quietMs = options.quietMs ?? 100;
  const maxMs = options.maxMs ?? 2000;
  const sockets = new Map<Socket, { busy: number; idleSince: number }>();
  const running = new Set<ServerResponse>();
  let draining = false;

  server.on("connection", (socket: Socket) => {
    sockets.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once("close", () => sockets.delete(socket));
  });
  // Before the application's listener, so even an answer sent at once carries the header.
  server.prependListener("request", (request: IncomingMessage, response: ServerResponse) => {
    if (draining) response.setHeader("connection", "close");
    const state = sockets.get(request.socket);
    if (state) state.busy++;
    running.add(response);
    response.once("close", () => {
      running.delete(response);
      if (!state) return;
      state.busy--;
      state.idleSince = Date.now();
    });
  });

  const settled = () => {
    const now = Date.now();
    for (const { busy, idleSince } of sockets.values()) if (busy > 0 || now - idleSince < quietMs) return false;
    return true;
  };

  return {
    async drain() {
      if (draining) return;
      draining = true;
      for (const response of running) if (!response.headersSent) response.setHeader("connection", "close");
      // net.Server#close stops accepting but, unlike http.Server#close, leaves idle connections open.
      if (server.listening) NetServer.prototype.close.call(server);
      const deadline = Date.now() + maxMs;
      while (!settled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    },
  };
}
