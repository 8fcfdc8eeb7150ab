import { BlockList, isIP } from "node:net";

/** Validates a comma-separated CIDR / address list; returns the entries in canonical `addr/prefix` form. */
export function parseCidrs(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [address = "", prefixText] = entry.split("/", 2);
      const family = isIP(address);
      if (family === 0) throw new RangeError(`"${entry}" is not an IP address or CIDR`);
      const bits = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? bits : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new RangeError(`"${entry}" has a bad prefix`);
      return `${address}/${prefix}`;
    });
}

/** An IPv4 client seen through a dual-stack socket (`::ffff:1.2.3.4`) is matched as IPv4. */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Client addresses whose answer a matcher remembers; past this it starts over (a flood of addresses). */
export const CIDR_MEMO_ENTRIES = 10_000;

/**
 * A CIDR set, checked with node's BlockList (IPv4 and IPv6). Every request asks (the throttle's
 * exempt list, IP_ALLOW/IP_DENY), and BlockList.check builds a SocketAddress each time (about 3% of
 * a light request's CPU): the answer per address is remembered, at most CIDR_MEMO_ENTRIES of them.
 */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", prefix = ""] = cidr.split("/");
    list.addSubnet(address, Number(prefix), isIP(address) === 4 ? "ipv4" : "ipv6");
  }
  const memo = new Map<string, boolean>();
  return (ip: string) => {
    const known = memo.get(ip);
    if (known !== undefined) return known;
    const address = normalizeIp(ip);
    const family = isIP(address);
    const inside = family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
    if (memo.size >= CIDR_MEMO_ENTRIES) memo.clear();
    memo.set(ip, inside);
    return inside;
  };
}

/** IP_DENY wins over IP_ALLOW; an empty allow list allows everyone not denied. */
export function createAccessList(allow: readonly string[], deny: readonly string[]): (ip: string) => boolean {
  const allowed = cidrMatcher(allow);
  const denied = cidrMatcher(deny);
  return (ip) => !denied(ip) && (allow.length === 0 || allowed(ip));
}
