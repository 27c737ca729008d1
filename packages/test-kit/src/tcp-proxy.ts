// A TCP proxy for failover tests: a load balancer in front of servers (each connection goes to the first target that
// accepts it, so once one dies new connections go to the next), or one path to a server that can die for good.
import { connect, createServer, type Socket } from "node:net";

export interface TcpProxy {
  /** Where it listens, as `127.0.0.1:<port>`. */
  host: string;
  /** How many connections went to each target so far. */
  routed: Map<string, number>;
  /** Resets every connection and refuses new ones from now on (what clients see of a kill -9). */
  kill(): Promise<void>;
}

/** Listens on 127.0.0.1; `targets` are base URLs (`http://127.0.0.1:7700`), tried in order for each connection. */
export async function startTcpProxy(targets: readonly string[]): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const routed = new Map<string, number>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  };
  const server = createServer((inbound) => {
    track(inbound);
    const tryTarget = (index: number) => {
      const target = targets[index];
      if (!target) return void inbound.destroy();
      const { hostname, port } = new URL(target);
      const outbound = connect(Number(port), hostname);
      outbound.once("error", () => tryTarget(index + 1));
      outbound.once("connect", () => {
        routed.set(target, (routed.get(target) ?? 0) + 1);
        track(outbound);
        outbound.on("close", () => inbound.destroy());
        inbound.on("close", () => outbound.destroy());
        inbound.pipe(outbound).pipe(inbound);
      });
    };
    tryTarget(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    routed,
    kill: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.resetAndDestroy();
      await closed;
    },
  };
}
