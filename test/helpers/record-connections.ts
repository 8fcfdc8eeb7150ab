// Preloaded into a child process under test (`--import`): appends every outgoing connection's
// destination and every DNS lookup to the file named by RECORD_CONNECTIONS_FILE.

import dns from "node:dns";
import { appendFileSync } from "node:fs";
import net from "node:net";

const file = process.env.RECORD_CONNECTIONS_FILE;
if (file) {
  const record = (kind: string, target: unknown) => appendFileSync(file, `${kind} ${String(target)}\n`);
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // Node calls this with (options), (port, host), (path) or, internally, ([options, callback]).
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (typeof first === "object" && first !== null) {
      const o = first as { host?: string; path?: string; port?: number | string };
      record("connect", o.path ?? `${o.host ?? "localhost"}:${o.port ?? ""}`);
    } else if (typeof first === "number" || /^\d+$/.test(String(first))) {
      record("connect", `${typeof args[1] === "string" ? args[1] : "localhost"}:${first}`);
    } else {
      record("connect", first);
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  const lookup = dns.lookup;
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    record("lookup", hostname);
    return (lookup as (...a: unknown[]) => void).call(dns, hostname, ...rest);
  }) as typeof dns.lookup;
}
