import { BlockList, isIP } from 'node:net';

/** One entry of QOSWATCH_TRUSTED_PROXIES: an address with its prefix length. */
export interface ProxyNet {
  address: string;
  prefix: number;
  family: 4 | 6;
}

/** "10.0.0.0/8", "192.0.2.7" or "2001:db8::/32" as a network; undefined when it is none of those. */
export function parseProxyNet(text: string): ProxyNet | undefined {
  const [addr, len, ...rest] = text.trim().split('/');
  if (rest.length || !addr) return undefined;
  const family = isIP(addr);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address: addr, prefix, family };
}

/** "::ffff:192.0.2.1" (how a dual-stack socket reports an IPv4 peer) as "192.0.2.1"; other addresses as given. */
export function normaliseAddress(addr: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(addr);
  return m ? m[1]! : addr;
}

/** The proxies whose X-Forwarded-For is believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(nets: readonly ProxyNet[]) {
    for (const n of nets) this.list.addSubnet(n.address, n.prefix, n.family === 4 ? 'ipv4' : 'ipv6');
    this.empty = nets.length === 0;
  }

  trusts(addr: string): boolean {
    const family = isIP(addr);
    return family !== 0 && this.list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then X-Forwarded-For is read from
 * its right end (each proxy appends the address it received from) past every trusted proxy, and the first address
 * that is not one is the client. Hops a client wrote itself sit left of that and are never read. Undefined when
 * the address found is not an IP address (a trusted proxy passing on garbage): no enrichment rather than a guess.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, proxies: TrustedProxies): string | undefined {
  if (socketAddress === undefined) return undefined;
  let addr = normaliseAddress(socketAddress);
  if (proxies.empty || forwardedFor === undefined || !proxies.trusts(addr)) return isIP(addr) ? addr : undefined;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    addr = normaliseAddress(hops[i]!.trim());
    if (!isIP(addr)) return undefined;
    if (!proxies.trusts(addr)) return addr;
  }
  // Every hop is a trusted proxy: the leftmost is the closest thing to a client there is.
  return addr;
}
