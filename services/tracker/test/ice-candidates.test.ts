// The candidate filter shared by the access point, the tracker and clients: address scopes, candidate lines, and
// session descriptions as Chromium and libdatachannel (the headless peer) really write them.
import { describe, expect, it } from "vitest";
import {
  addressScope,
  canonicalAddress,
  filterCandidateLine,
  filterSdp,
  filterSignal,
  relayableOnly,
  v6PrefixOf,
  type AddressPolicy,
} from "@soundmesh/protocol";

const line = (address: string, port = 5000, type = "host", extra = "") =>
  `candidate:842163049 1 udp 1677729535 ${address} ${port} typ ${type}${extra}`;
const mdns = "87a94256-147c-4e19-807a-d35c9551d30f.local";

describe("address scopes", () => {
  it("classifies every range a candidate could name", () => {
    const table: Array<[string, string]> = [
      ["127.0.0.1", "loopback"],
      ["127.255.0.9", "loopback"],
      ["::1", "loopback"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
      ["224.0.0.251", "multicast"],
      ["ff02::fb", "multicast"],
      ["169.254.10.1", "link-local"],
      ["fe80::fc:ff:fe00:1", "link-local"],
      ["255.255.255.255", "reserved"],
      ["::7f00:1", "reserved"],
      ["10.1.2.3", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.20", "private"],
      ["100.64.0.1", "private"],
      ["fd00::2", "private"],
      ["fc12::1", "private"],
      ["172.32.0.1", "public"],
      ["100.128.0.1", "public"],
      ["192.0.2.2", "public"],
      ["2001:db8::1", "public"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:10.0.0.1", "private"],
      [mdns, "mdns"],
      [mdns.toUpperCase().replace(".LOCAL", ".local"), "mdns"],
      ["printer.local", "hostname"],
      ["redis.internal", "hostname"],
      ["localhost", "hostname"],
      ["999.1.1.1", "hostname"],
      ["1:2:3:4:5:6:7:8:9", "hostname"],
    ];
    for (const [address, scope] of table) expect(addressScope(address), address).toBe(scope);
  });

  it("compares addresses in one canonical form and IPv6 ones by /64", () => {
    expect(canonicalAddress("::ffff:192.0.2.1")).toBe(canonicalAddress("192.0.2.1"));
    expect(canonicalAddress("2001:DB8:0:0::1")).toBe(canonicalAddress("2001:db8::0:1"));
    expect(canonicalAddress("example.com")).toBeUndefined();
    expect(v6PrefixOf("2001:db8:0:1::a")).toBe(v6PrefixOf("2001:db8:0:1:ffff::b"));
    expect(v6PrefixOf("2001:db8:0:2::a")).not.toBe(v6PrefixOf("2001:db8:0:1::a"));
    expect(v6PrefixOf("192.0.2.1")).toBeUndefined();
  });
});

describe("candidate lines", () => {
  it("drops loopback, unspecified, multicast, link-local and host-name candidates whatever the policy", () => {
    for (const address of [
      "127.0.0.1",
      "::1",
      "0.0.0.0",
      "224.0.0.1",
      "169.254.1.1",
      "fe80::1",
      "redis.internal",
    ])
      expect(filterCandidateLine(line(address, 6379), relayableOnly), address).toBeUndefined();
    expect(filterCandidateLine(line(mdns), relayableOnly)).toBe(line(mdns));
    expect(filterCandidateLine("candidate:evil", relayableOnly)).toBeUndefined();
  });

  it("asks the policy about private and public addresses, and blanks a related address it refuses", () => {
    const onlyOwn: AddressPolicy = (address, scope) => scope !== "public" || address === "203.0.113.5";
    expect(filterCandidateLine(line("203.0.113.5"), onlyOwn)).toBe(line("203.0.113.5"));
    expect(filterCandidateLine(line("198.51.100.7"), onlyOwn)).toBeUndefined();
    const noPrivate: AddressPolicy = (_address, scope) => scope !== "private";
    expect(
      filterCandidateLine(
        line("203.0.113.5", 5000, "srflx", " raddr 192.168.1.20 rport 50000 generation 0"),
        noPrivate,
      ),
    ).toBe(line("203.0.113.5", 5000, "srflx", " raddr 0.0.0.0 rport 0 generation 0"));
    expect(filterCandidateLine(line("192.168.1.20"), noPrivate)).toBeUndefined();
  });
});

describe("session descriptions", () => {
  // As Chromium 1xx writes them between two tabs: mDNS host names, c=0.0.0.0, a placeholder origin.
  const chromium = [
    "v=0",
    "o=- 5116897219285747835 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    `a=${line(mdns, 58570)} generation 0 network-cost 999`,
    "a=ice-ufrag:/esO",
    "a=ice-pwd:oN2gVrfsDnlg01c/X/zOADYl",
    "a=setup:actpass",
    "a=mid:0",
    "a=sctp-port:5000",
    "",
  ].join("\r\n");
  // As libdatachannel (the headless peer) writes them: every host address, and the first in c=.
  const libdatachannel = [
    "v=0",
    "o=rtc 3340414917 0 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "m=application 35844 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 192.168.1.20",
    "a=ice-ufrag:CH4F",
    "a=candidate:2 1 UDP 2116026111 fd00::2 35844 typ host",
    "a=candidate:1 1 UDP 2114977791 192.168.1.20 35844 typ host",
    "a=candidate:3 1 UDP 2114977791 127.0.0.1 6379 typ host",
    "a=remote-candidates:1 10.0.0.1 22",
    "a=end-of-candidates",
    "",
  ].join("\r\n");

  it("keeps a Chromium description's mDNS candidates and blanks its placeholder origin", () => {
    expect(filterSdp(chromium, relayableOnly)).toBe(chromium.replace("IN IP4 127.0.0.1", "IN IP4 0.0.0.0"));
  });

  it("removes candidates and blanks addresses the receiver may not see, keeping the line endings", () => {
    const noPrivate: AddressPolicy = (_address, scope) => scope !== "private";
    expect(filterSdp(libdatachannel, noPrivate)).toBe(
      [
        "v=0",
        "o=rtc 3340414917 0 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=application 35844 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:CH4F",
        "a=end-of-candidates",
        "",
      ].join("\r\n"),
    );
    const sameNetwork = filterSdp(libdatachannel.replaceAll("\r\n", "\n"), relayableOnly);
    expect(sameNetwork).toContain("c=IN IP4 192.168.1.20\n");
    expect(sameNetwork).toContain("a=candidate:1 1 UDP 2114977791 192.168.1.20 35844 typ host\n");
    expect(sameNetwork).not.toMatch(/127\.0\.0\.1|remote-candidates|\r/);
  });

  it("drops a candidate signal whose candidate is refused and passes the end-of-candidates marker", () => {
    expect(
      filterSignal({ type: "candidate", candidate: { candidate: line("127.0.0.1", 6379) } }, relayableOnly),
    ).toBeUndefined();
    expect(filterSignal({ type: "candidate", candidate: { candidate: "" } }, relayableOnly)).toEqual({
      type: "candidate",
      candidate: { candidate: "" },
    });
    expect(filterSignal({ type: "candidate", candidate: null }, relayableOnly)).toEqual({
      type: "candidate",
      candidate: null,
    });
    expect(filterSignal({ type: "bye" }, () => false)).toEqual({ type: "bye" });
  });
});
