// Which addresses a relayed WebRTC signal may name: ICE candidates and SDP address fields classified and filtered,
// by the sender's access point, by the tracker and again by the receiving client (browser-safe, no node:net).
import type { SignalData } from "./tracker";

/**
 * What an address in a candidate is. Only `private`, `public` and `mdns` can ever be relayed: the rest name the
 * receiver's own machine, every host on a link, or nothing a peer could legitimately listen on.
 */
export type AddressScope =
  | "loopback"
  | "unspecified"
  | "multicast"
  | "link-local"
  | "reserved"
  | "private"
  | "public"
  | "mdns"
  | "hostname";

export type RelayableScope = Extract<AddressScope, "private" | "public" | "mdns">;

/** Whether the receiver may be shown this address; asked only for the relayable scopes. */
export type AddressPolicy = (address: string, scope: RelayableScope) => boolean;

/** The receiving client's check: every relayable address, nothing else. */
export const relayableOnly: AddressPolicy = () => true;

/**
 * An ICE candidate line as a browser writes it (RFC 8839), without "a=": foundation, component, transport, priority,
 * address, port, type, then extensions (raddr/rport, generation, ufrag, network-cost, tcptype).
 */
export const CANDIDATE_LINE =
  /^candidate:[A-Za-z0-9+/]{1,32} \d{1,3} (?:udp|tcp|UDP|TCP) \d{1,10} [A-Za-z0-9.:-]{1,255} \d{1,5} typ (?:host|srflx|prflx|relay)(?: [ -~]{0,700})?$/;

/** The random names browsers give host candidates to hide their addresses (Chromium: a v4 UUID + ".local"). */
const MDNS_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.local$/i;

function parseV4(text: string): number | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const parts = match.slice(1).map(Number);
  if (parts.some((part) => part > 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + part, 0);
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail converted), or undefined when it is not one. */
function parseV6(text: string): number[] | undefined {
  if (!/^[0-9a-f:.]{2,45}$/i.test(text) || !text.includes(":")) return undefined;
  let body = text.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(body)?.[1];
  if (tail !== undefined) {
    const v4 = parseV4(tail);
    if (v4 === undefined) return undefined;
    body = `${body.slice(0, -tail.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<string>(missing).fill("0"), ...rest];
  if (groups.some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return undefined;
  return groups.map((group) => parseInt(group, 16));
}

const inV4 = (n: number, base: string, bits: number) => n >>> (32 - bits) === parseV4(base)! >>> (32 - bits);

function scopeOfV4(n: number): AddressScope {
  if (inV4(n, "0.0.0.0", 8)) return "unspecified";
  if (inV4(n, "127.0.0.0", 8)) return "loopback";
  if (inV4(n, "169.254.0.0", 16)) return "link-local";
  if (inV4(n, "224.0.0.0", 4)) return "multicast";
  if (inV4(n, "240.0.0.0", 4)) return "reserved"; // also 255.255.255.255, the broadcast address
  const isPrivate =
    inV4(n, "10.0.0.0", 8) ||
    inV4(n, "172.16.0.0", 12) ||
    inV4(n, "192.168.0.0", 16) ||
    inV4(n, "100.64.0.0", 10);
  return isPrivate ? "private" : "public";
}

/** An address as one canonical string ("v4:a.b.c.d" or "v6:<8 groups>"), or undefined for a name. */
export function canonicalAddress(text: string): string | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return `v4:${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
  const v6 = parseV6(text.split("%")[0]!);
  if (!v6) return undefined;
  // IPv4-mapped (::ffff:a.b.c.d) is the IPv4 address itself.
  if (v6.slice(0, 5).every((group) => group === 0) && v6[5] === 0xffff)
    return canonicalAddress(`${v6[6]! >>> 8}.${v6[6]! & 255}.${v6[7]! >>> 8}.${v6[7]! & 255}`);
  return `v6:${v6.map((group) => group.toString(16)).join(":")}`;
}

/** The /64 an IPv6 address belongs to ("v6:2001:db8:0:1::/64"), undefined for IPv4 and names. */
export function v6PrefixOf(text: string): string | undefined {
  const canonical = canonicalAddress(text);
  if (!canonical?.startsWith("v6:")) return undefined;
  return `${canonical.split(":").slice(0, 5).join(":")}::/64`;
}

export function addressScope(text: string): AddressScope {
  if (MDNS_NAME.test(text)) return "mdns";
  const canonical = canonicalAddress(text);
  if (canonical === undefined) return "hostname";
  if (canonical.startsWith("v4:")) return scopeOfV4(parseV4(canonical.slice(3))!);
  const groups = canonical
    .slice(3)
    .split(":")
    .map((group) => parseInt(group, 16));
  const first = groups[0]!;
  if (groups.every((group) => group === 0)) return "unspecified";
  if (groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1) return "loopback";
  if (groups.slice(0, 6).every((group) => group === 0)) return "reserved"; // IPv4-compatible, deprecated
  if (first >>> 8 === 0xff) return "multicast";
  if (first >>> 6 === 0xfe80 >>> 6) return "link-local";
  if (first >>> 6 === 0xfec0 >>> 6) return "reserved"; // site-local, deprecated
  if (first >>> 9 === 0xfc00 >>> 9) return "private"; // unique local, fc00::/7
  return "public";
}

function isRelayable(address: string, policy: AddressPolicy): boolean {
  const scope = addressScope(address);
  if (scope !== "private" && scope !== "public" && scope !== "mdns") return false;
  return policy(address, scope);
}

/**
 * One candidate line (without "a="), or undefined when its address may not reach the receiver. A related address
 * (raddr, the host address behind a reflexive or relayed candidate) that may not is replaced by the unspecified
 * address, as browsers do themselves when they hide host addresses.
 */
export function filterCandidateLine(line: string, policy: AddressPolicy): string | undefined {
  if (!CANDIDATE_LINE.test(line)) return undefined;
  const tokens = line.split(" ");
  if (!isRelayable(tokens[4]!, policy)) return undefined;
  const raddr = tokens.indexOf("raddr", 8);
  if (raddr > 0 && tokens[raddr + 1] !== undefined && !isRelayable(tokens[raddr + 1]!, policy)) {
    tokens[raddr + 1] = tokens[raddr + 1]!.includes(":") ? "::" : "0.0.0.0";
    const rport = tokens.indexOf("rport", raddr);
    if (rport > 0 && tokens[rport + 1] !== undefined) tokens[rport + 1] = "0";
  }
  return tokens.join(" ");
}

/** `c=`, `o=` and `a=rtcp:` lines end in "IN IP4|IP6 <address>": an address not for the receiver becomes unspecified. */
const ADDRESS_FIELD = /^((?:c=|o=.* |a=rtcp:\d+ )IN (IP4|IP6) )([^ /]+)(.*)$/;

function filterSdpLine(line: string, policy: AddressPolicy): string | undefined {
  if (line.startsWith("a=candidate:")) {
    const kept = filterCandidateLine(line.slice(2), policy);
    return kept === undefined ? undefined : `a=${kept}`;
  }
  // Addresses the receiver should check (only an ICE restart's controlling side sends them): never relayed.
  if (line.startsWith("a=remote-candidates:")) return undefined;
  const field = ADDRESS_FIELD.exec(line);
  if (!field) return line;
  const [, head, family, address, rest] = field as unknown as [string, string, string, string, string];
  const unspecified = family === "IP6" ? "::" : "0.0.0.0";
  return isRelayable(address, policy) ? line : `${head}${unspecified}${rest}`;
}

/** A session description with every candidate and address field the receiver may not see removed or blanked. */
export function filterSdp(sdp: string, policy: AddressPolicy): string {
  const newline = sdp.includes("\r\n") ? "\r\n" : "\n";
  const trailing = sdp.endsWith(newline);
  const lines = (trailing ? sdp.slice(0, -newline.length) : sdp).split(/\r?\n/);
  const kept = lines.flatMap((line) => {
    const filtered = filterSdpLine(line, policy);
    return filtered === undefined ? [] : [filtered];
  });
  return kept.join(newline) + (trailing ? newline : "");
}

/**
 * A signal as the receiver may see it: descriptions filtered line by line, a candidate kept only when its address
 * may be shown; undefined when the candidate may not (the whole signal is then dropped, not delivered).
 */
export function filterSignal(data: SignalData, policy: AddressPolicy): SignalData | undefined {
  switch (data.type) {
    case "offer":
    case "answer":
      return { type: data.type, sdp: filterSdp(data.sdp, policy) };
    case "candidate": {
      if (data.candidate === null || data.candidate.candidate === "") return data;
      const line = filterCandidateLine(data.candidate.candidate, policy);
      return line === undefined
        ? undefined
        : { type: "candidate", candidate: { ...data.candidate, candidate: line } };
    }
    case "bye":
      return data;
  }
}
