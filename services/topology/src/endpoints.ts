// Maps the remote end of a TCP connection to the nodes listening there: declared endpoints (databases, NATS) and
// the listening sockets other processes report.
export interface KnownEndpoint {
  /** "host:port"; host 0.0.0.0, [::] or * matches any address on that port. */
  address: string;
  node: string;
}

function split(address: string): { host: string; port: string } {
  const colon = address.lastIndexOf(":");
  return {
    host: address
      .slice(0, colon)
      .replace(/^\[|\]$/g, "")
      .toLowerCase(),
    port: address.slice(colon + 1),
  };
}

const isAny = (host: string) => host === "0.0.0.0" || host === "::" || host === "*" || host === "";
const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");

/** Whether a connection to `remote` reaches a socket listening at `listening`. */
export function addressMatches(remote: string, listening: string): boolean {
  const a = split(remote);
  const b = split(listening);
  if (a.port !== b.port) return false;
  return a.host === b.host || isAny(b.host) || (isLoopback(a.host) && isLoopback(b.host));
}

/** "postgres://u:p@db:5432/x" → "db:5432" (with the scheme's default port when none is written). */
export function endpointOfUrl(url: string, defaultPort: number): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || defaultPort}`;
  } catch {
    return undefined;
  }
}
