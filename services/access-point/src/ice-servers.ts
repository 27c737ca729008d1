// STUN and TURN servers for peers on different networks, handed to each client in its hello frame. TURN credentials
// follow the TURN REST convention (coturn's use-auth-secret): the user name is "<expiry unix seconds>:<pseudonym>",
// the password base64(HMAC-SHA1(shared secret, user name)), so the TURN server checks them without asking us.
import { createHmac } from "node:crypto";
import { canonicalAddress, type IceServer } from "@soundmesh/protocol";

export interface IceConfig {
  /** e.g. "stun:stun.example.org:3478". */
  stunUrls: readonly string[];
  turn?:
    | {
        /** e.g. "turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349". */
        urls: readonly string[];
        /** coturn's static-auth-secret. */
        secret: string;
        /** How long one connection's credentials are good for. */
        ttlSeconds: number;
      }
    | undefined;
}

/** The servers one connection is told about, TURN credentials made for it now. */
export function iceServersFor(config: IceConfig | undefined, peerId: string, nowMs: number): IceServer[] {
  if (!config) return [];
  const servers: IceServer[] = [];
  if (config.stunUrls.length > 0) servers.push({ urls: [...config.stunUrls] });
  if (config.turn && config.turn.urls.length > 0) {
    const username = `${Math.floor(nowMs / 1000) + config.turn.ttlSeconds}:${peerId}`;
    const credential = createHmac("sha1", config.turn.secret).update(username).digest("base64");
    servers.push({ urls: [...config.turn.urls], username, credential });
  }
  return servers;
}

/** The host of a stun:/turn: URL ("turn:[2001:db8::1]:3478?transport=udp" → "2001:db8::1"). */
export function iceUrlHost(url: string): string {
  const rest = url.replace(/^[a-z]+:/i, "").split("?")[0]!;
  const bracketed = /^\[([^\]]+)\]/.exec(rest);
  if (bracketed) return bracketed[1]!;
  return rest.split(":")[0]!;
}

/**
 * The addresses of the configured servers given as IP literals: a relayed candidate names the TURN server's address,
 * not the sender's, and passes the sender's filter for these addresses. A TURN server given by host name is not
 * resolved here: its relayed candidates are dropped, so TURN URLs name the server by address.
 */
export function iceServerAddresses(config: IceConfig | undefined): string[] {
  if (!config) return [];
  const urls = [...config.stunUrls, ...(config.turn?.urls ?? [])];
  return urls.map(iceUrlHost).filter((host) => canonicalAddress(host) !== undefined);
}
