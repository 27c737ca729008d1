// The access point on an in-process bus with just enough of a user service to let one token in, for tests that
// need to hold a request open or serve without the web player; real Fastify, real sockets.
import pino from "pino";
import { Registry } from "prom-client";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import { AppError, defineService, userContract, type ServiceContract } from "@soundmesh/protocol";
import {
  accessPointManifest,
  createAccessPoint,
  defaultAccessPointConfig,
  type AccessPoint,
  type AccessPointConfig,
} from "../src/index";

export const STUB_TOKEN = "t".repeat(43);
/** The one user the stub lets in (`user.me` answers with it when the test exposes the user contract). */
const HOLDER = { id: "u1", name: "holder", role: "user" as const, disabled: false, createdAt: 0 };

export interface StubAccessPoint {
  bus: Bus;
  accessPoint: AccessPoint;
  url: string;
  close(): Promise<void>;
}

export async function startStubAccessPoint(
  config: Partial<AccessPointConfig> = {},
  contracts: readonly ServiceContract[] = [],
): Promise<StubAccessPoint> {
  const bus = createInProcessBus();
  await bus
    .connect({ service: "user", calls: [] })
    .serve(
      defineService("user", { authenticate: userContract.methods.authenticate, me: userContract.methods.me }),
      {
        authenticate: ({ token }) => {
          if (token !== STUB_TOKEN) throw new AppError("UNAUTHENTICATED");
          return { user: HOLDER, sessionId: "s1", kind: "session" as const, expiresAt: null, renewed: false };
        },
        me: () => HOLDER,
      },
    );
  const accessPoint = await createAccessPoint({
    config: { ...defaultAccessPointConfig, port: 0, ...config },
    logger: pino({ level: "silent" }),
    bus: bus.connect(accessPointManifest),
    registry: new Registry(),
    contracts,
  });
  const url = await accessPoint.listen();
  return {
    bus,
    accessPoint,
    url,
    async close() {
      await accessPoint.close();
      await bus.close();
    },
  };
}
