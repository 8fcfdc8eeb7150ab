import { createServer } from "node:net";

// Ports the kernel hands out for outgoing connections (32768–60999 on Linux) can be taken by any
// client socket of any test between the probe and the child's listen; these are below that range.
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A port free on 127.0.0.1 right now, for a process that must be told its port before it starts;
 * with `alsoFree`, the ports that many steps above it are free too (replicas on `port + k * step`).
 */
export async function freePort(alsoFree: readonly number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    const wanted = [port, ...alsoFree.map((offset) => port + offset)];
    if (wanted.some((p) => handedOut.has(p))) continue;
    let ok = true;
    for (const p of wanted) if (!(await bindable(p))) ok = false;
    if (!ok) continue;
    for (const p of wanted) handedOut.add(p);
    return port;
  }
  throw new Error("no free port found below the ephemeral range");
}
