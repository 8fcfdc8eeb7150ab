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
    const first = args[0] as { host?: string; path?: string; port?: number } | number | string;
    if (typeof first === "object" && first !== null)
      record("connect", first.path ?? `${first.host ?? "localhost"}:${first.port}`);
    else if (typeof first === "number")
      record("connect", `${typeof args[1] === "string" ? args[1] : "localhost"}:${first}`);
    else record("connect", first);
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  const lookup = dns.lookup;
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    record("lookup", hostname);
    return (lookup as (...a: unknown[]) => void).call(dns, hostname, ...rest);
  }) as typeof dns.lookup;
}
