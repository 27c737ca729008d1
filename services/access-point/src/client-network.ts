// Which network a client is on, as far as its address tells: peers on one network are offered to each other first.
import { isIPv4, isIPv6 } from "node:net";
import type { FastifyRequest } from "fastify";

const PRIVATE_V4: Array<[number, number]> = [
  [0x0a000000, 8], // 10.0.0.0/8
  [0xac100000, 12], // 172.16.0.0/12
  [0xc0a80000, 16], // 192.168.0.0/16
  [0xa9fe0000, 16], // 169.254.0.0/16, link-local
];

/** "::ffff:192.0.2.1" (IPv4 on a dual-stack socket) as plain "192.0.2.1". */
const withoutV4Mapping = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");

function v4Number(address: string): number {
  return address.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** The eight 16-bit groups of an IPv6 address, "::" expanded and an embedded IPv4 tail converted. */
function v6Groups(address: string): number[] {
  let text = address.split("%")[0]!.toLowerCase();
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4Tail) {
    const n = v4Number(v4Tail);
    text = `${text.slice(0, -v4Tail.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * A key shared by clients that are probably on one local network:
 * - a public IPv4 address is the key itself (a home network behind one NAT shows the server one address);
 * - a private or link-local IPv4 address keys on its /24 (the server is on the LAN and sees each device);
 * - an IPv6 address keys on its /64 (the prefix a network is given);
 * - loopback addresses are all one network (the same machine).
 */
export function networkOf(rawAddress: string): string {
  const address = withoutV4Mapping(rawAddress);
  if (isIPv4(address)) {
    const n = v4Number(address);
    if (address.startsWith("127.")) return "loopback";
    const isPrivate = PRIVATE_V4.some(([base, bits]) => n >>> (32 - bits) === base >>> (32 - bits));
    return isPrivate ? `v4:${address.split(".").slice(0, 3).join(".")}.0/24` : `v4:${address}`;
  }
  if (isIPv6(address.split("%")[0]!)) {
    const groups = v6Groups(address);
    if (groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1) return "loopback";
    return `v6:${groups
      .slice(0, 4)
      .map((group) => group.toString(16))
      .join(":")}::/64`;
  }
  return `other:${address}`;
}

/**
 * Who a sign-in attempt is counted against, per address: an IPv4 address as it is, an IPv6 address by its /64,
 * since one host is given a whole /64 and could otherwise take a fresh address for every guess.
 */
export function throttleAddressOf(rawAddress: string): string {
  const address = withoutV4Mapping(rawAddress);
  const network = networkOf(address);
  return network.startsWith("v6:") ? network : address;
}

/** Headers a reverse proxy adds: a request carrying one came through a proxy, whatever its socket says. */
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip", "via"];

/**
 * Whether the client is on this machine. Behind a trusted proxy that is the forwarded client address (request.ip);
 * a request that says it was forwarded but whose forwarded address the server does not believe (no trustProxy)
 * is not local, so a proxy on loopback does not open /metrics to the world.
 */
export function isLoopbackClient(request: FastifyRequest): boolean {
  if (networkOf(request.ip) !== "loopback") return false;
  const isForwardedAddress = request.ips !== undefined && request.ips.length > 1;
  return isForwardedAddress || !FORWARDING_HEADERS.some((name) => request.headers[name] !== undefined);
}
