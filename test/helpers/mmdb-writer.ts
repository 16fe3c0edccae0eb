import { isIPv4 } from 'node:net';

/**
 * A minimal MaxMind DB (MMDB 2.0) writer, for tests that need a real database file: the registry has no writer
 * package. It follows the spec (maxmind.github.io/MaxMind-DB): a binary search tree over the address bits, 16 zero
 * bytes, a data section, then the metadata marker and map. Enough for tests: no pointers or key de-duplication in
 * the data section, and networks may not overlap.
 */

export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbEntry {
  /** "1.2.3.0/24" or "2001:db8::/32"; IPv4 networks in an IPv6 tree go where readers look for them (::a.b.c.d). */
  network: string;
  data: { [key: string]: MmdbValue };
}

export interface MmdbSpec {
  ipVersion: 4 | 6;
  recordSize: 24 | 28 | 32;
  databaseType: string;
  entries: readonly MmdbEntry[];
}

/** A tree node: each side is another node, a data record, or nothing (undefined). */
interface Node {
  sides: [Node | Leaf | undefined, Node | Leaf | undefined];
  index: number;
}
interface Leaf {
  data: { [key: string]: MmdbValue };
}

const isNode = (x: Node | Leaf | undefined): x is Node => x !== undefined && 'sides' in x;

/** The network's bits (most significant first) as the tree walks them. */
function prefixBits(network: string, ipVersion: 4 | 6): number[] {
  const [addr, lenText] = network.split('/') as [string, string];
  const len = Number(lenText);
  let bytes: number[];
  let offset = 0;
  if (isIPv4(addr)) {
    bytes = addr.split('.').map(Number);
    // In an IPv6 tree, IPv4 lives under ::/96 (readers walk 96 zero bits to find it).
    if (ipVersion === 6) {
      bytes = [...new Array<number>(12).fill(0), ...bytes];
      offset = 96;
    }
  } else {
    if (ipVersion === 4) throw new Error(`${network}: an IPv4 tree holds no IPv6 networks`);
    bytes = ipv6Bytes(addr);
  }
  const bits: number[] = [];
  for (let i = 0; i < offset + len; i++) bits.push((bytes[i >> 3]! >> (7 - (i & 7))) & 1);
  return bits;
}

function ipv6Bytes(addr: string): number[] {
  const [head, tail] = addr.includes('::') ? (addr.split('::') as [string, string]) : [addr, undefined];
  const groups = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

// --- data section encoding (spec: "Output Data Section") ---

const TYPE = { pointer: 1, string: 2, double: 3, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, array: 11, boolean: 14 } as const;

/** The control byte(s) of a field: type in the top 3 bits (extended types after it), size in the low 5 (and after). */
function control(type: number, size: number): Buffer {
  const head: number[] = [];
  const extra: number[] = [];
  let sizeBits: number;
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) { sizeBits = 29; extra.push(size - 29); }
  else if (size < 285 + 65536) { sizeBits = 30; const s = size - 285; extra.push(s >> 8, s & 0xff); }
  else { sizeBits = 31; const s = size - 65821; extra.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff); }
  if (type <= 7) head.push((type << 5) | sizeBits);
  else head.push(sizeBits, type - 7); // extended: type 0 in the control byte, then type − 7
  return Buffer.from([...head, ...extra]);
}

/** Big-endian bytes of an unsigned integer without leading zeros (zero is no bytes). */
function uintBytes(n: bigint): Buffer {
  const out: number[] = [];
  for (let v = n; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return Buffer.from(out);
}

function encode(v: MmdbValue): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(TYPE.string, b.length), b]);
  }
  if (typeof v === 'boolean') return control(TYPE.boolean, v ? 1 : 0);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      return Buffer.concat([control(TYPE.double, 8), b]);
    }
    if (v < 0) {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v);
      return Buffer.concat([control(TYPE.int32, 4), b]);
    }
    const type = v < 2 ** 16 ? TYPE.uint16 : v < 2 ** 32 ? TYPE.uint32 : TYPE.uint64;
    const b = uintBytes(BigInt(v));
    return Buffer.concat([control(type, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(TYPE.array, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(TYPE.map, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** A record value into a node's bytes (spec: "Node Layout"; 28-bit records share the middle byte's nibbles). */
function writeNode(out: Buffer, at: number, recordSize: 24 | 28 | 32, left: number, right: number): void {
  if (recordSize === 24) {
    out.writeUIntBE(left, at, 3);
    out.writeUIntBE(right, at + 3, 3);
  } else if (recordSize === 28) {
    out.writeUIntBE(left & 0xffffff, at, 3);
    out[at + 3] = ((left >>> 24) << 4) | (right >>> 24);
    out.writeUIntBE(right & 0xffffff, at + 4, 3);
  } else {
    out.writeUInt32BE(left, at);
    out.writeUInt32BE(right, at + 4);
  }
}

/** Builds the database file. */
export function writeMmdb(spec: MmdbSpec): Buffer {
  const root: Node = { sides: [undefined, undefined], index: 0 };
  for (const e of spec.entries) {
    const bits = prefixBits(e.network, spec.ipVersion);
    if (bits.length === 0) throw new Error(`${e.network}: a network needs a prefix length of at least 1`);
    let node = root;
    for (let i = 0; i < bits.length - 1; i++) {
      const side = node.sides[bits[i]!];
      if (side !== undefined && !isNode(side)) throw new Error(`${e.network} overlaps another network`);
      node = side ?? (node.sides[bits[i]!] = { sides: [undefined, undefined], index: 0 });
    }
    if (node.sides[bits.at(-1)!] !== undefined) throw new Error(`${e.network} overlaps another network`);
    node.sides[bits.at(-1)!] = { data: e.data };
  }
  // Number the nodes breadth first (the root must be node 0).
  const nodes: Node[] = [root];
  for (let i = 0; i < nodes.length; i++) for (const s of nodes[i]!.sides) if (isNode(s)) nodes.push(s);
  nodes.forEach((n, i) => (n.index = i));
  const nodeCount = nodes.length;

  // Data records, and the record value pointing at each: node count + 16 + offset in the data section.
  const data: Buffer[] = [];
  let dataBytes = 0;
  const pointers = new Map<Leaf, number>();
  const valueOf = (side: Node | Leaf | undefined): number => {
    if (side === undefined) return nodeCount; // "no data"
    if (isNode(side)) return side.index;
    let p = pointers.get(side);
    if (p === undefined) {
      const b = encode(side.data);
      p = nodeCount + 16 + dataBytes;
      pointers.set(side, p);
      data.push(b);
      dataBytes += b.length;
    }
    return p;
  };

  const nodeBytes = spec.recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  for (const n of nodes) writeNode(tree, n.index * nodeBytes, spec.recordSize, valueOf(n.sides[0]), valueOf(n.sides[1]));

  const metadata = encode({
    node_count: nodeCount,
    record_size: spec.recordSize,
    ip_version: spec.ipVersion,
    database_type: spec.databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    description: { en: 'qoswatch test database' },
  });
  const marker = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com', 'latin1')]);
  return Buffer.concat([tree, Buffer.alloc(16), ...data, marker, metadata]);
}
