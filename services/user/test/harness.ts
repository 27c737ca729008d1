// Runs the user service on a fresh database behind the in-process bus, called as the access point would,
// with a hand-driven clock, a recorder for standingChanged events, and a second instance as the CLI runs it.
import pino from "pino";
import { createInProcessBus, type Bus, type ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  AppError,
  standingChangedEvent,
  userContract,
  type ParamsOf,
  type ResultOf,
  type Role,
  type StandingChanged,
  type UserContract,
} from "@soundmesh/protocol";
import {
  createSqlUserStore,
  createUserService,
  migrateUserStore,
  userManifest,
  type UserService,
  type UserServiceConfigInput,
  type UserStore,
} from "@soundmesh/service-user";
import type { DbTarget } from "@soundmesh/test-kit";

/** Cheap argon2id so the suites spend their time on behaviour. */
export const fastArgon2 = { memoryCost: 1024, timeCost: 1 };
export const startMs = Date.UTC(2030, 0, 1);
export const adminName = "root";
export const adminPassword = "correct horse battery";

export class ManualClock {
  constructor(private nowMs = startMs) {}
  now(): number {
    return this.nowMs;
  }
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export interface Caller {
  userId?: string;
  role?: Role;
}

export type RevokedEvent = StandingChanged;

/** Another user-service instance on the same database with a bus of its own: what `soundmesh user …` runs. */
export interface SideInstance {
  service: UserService;
  call: Harness["call"];
  close(): Promise<void>;
}

export interface Harness {
  db: Db;
  store: UserStore;
  clock: ManualClock;
  bus: Bus;
  service: UserService;
  /** A request through the bus from the access point, optionally on behalf of a user. */
  call<K extends keyof UserContract["methods"]>(
    method: K,
    params: ParamsOf<UserContract, K>,
    as?: Caller,
  ): Promise<ResultOf<UserContract, K>>;
  /** The AppError a call fails with (fails the test when it succeeds). */
  failure<K extends keyof UserContract["methods"]>(
    method: K,
    params: ParamsOf<UserContract, K>,
    as?: Caller,
  ): Promise<AppError>;
  /** Resolves with the first standingChanged event (seen or still to come) that matches, or fails after a deadline. */
  revoked(match: (event: RevokedEvent) => boolean, timeoutMs?: number): Promise<RevokedEvent>;
  events: RevokedEvent[];
  /** Creates the first admin and signs them in. */
  setupAdmin(): Promise<{ id: string; token: string; sessionId: string; as: Caller }>;
  /** Starts a second instance on the same database, as the CLI does beside a running server. */
  sideInstance(): Promise<SideInstance>;
  /** Creates a user (as the admin) and signs them in. */
  addUser(
    name: string,
    password?: string,
    role?: Role,
  ): Promise<{ id: string; token: string; sessionId: string; as: Caller }>;
  close(): Promise<void>;
}

export async function startHarness(target: DbTarget, config: UserServiceConfigInput = {}): Promise<Harness> {
  const test = await target.open();
  const store = createSqlUserStore(test.db);
  const clock = new ManualClock();
  const bus = createInProcessBus();
  const logger = pino({ level: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent" });
  const service = createUserService({
    config: { argon2: fastArgon2, ...config },
    logger,
    bus: bus.connect(userManifest),
    store,
    clock,
  });
  await service.start();
  const accessPoint: ServiceBus = bus.connect({
    service: "access-point",
    calls: ["user"],
    subscribes: ["user.standingChanged"],
  });
  const events: RevokedEvent[] = [];
  const waiters = new Set<{
    match: (event: RevokedEvent) => boolean;
    resolve: (event: RevokedEvent) => void;
  }>();
  await accessPoint.subscribe(standingChangedEvent, (event) => {
    events.push(event);
    for (const waiter of waiters) {
      if (waiter.match(event)) {
        waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  });

  const call: Harness["call"] = (method, params, as = {}) =>
    accessPoint.request(userContract, method, params, {
      ...(as.userId === undefined ? {} : { userId: as.userId }),
      ...(as.role === undefined ? {} : { role: as.role }),
    });

  const failure: Harness["failure"] = async (method, params, as) => {
    const outcome = await call(method, params, as).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    if (!("error" in outcome)) throw new Error(`${method} succeeded: ${JSON.stringify(outcome.result)}`);
    if (!(outcome.error instanceof AppError)) throw outcome.error;
    return outcome.error;
  };

  const signIn = async (name: string, password: string) => {
    const { token, session, user } = await call("login", { name, password, address: "127.0.0.1" });
    return { id: user.id, token, sessionId: session.id, as: { userId: user.id, role: user.role } };
  };

  return {
    db: test.db,
    store,
    clock,
    bus,
    service,
    call,
    failure,
    events,
    revoked(match, timeoutMs = 5_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (event: RevokedEvent) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `no matching standingChanged event within ${timeoutMs} ms; seen: ${JSON.stringify(events)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async sideInstance() {
      const sideBus = createInProcessBus();
      const side = createUserService({
        config: { argon2: fastArgon2, ...config },
        logger,
        bus: sideBus.connect(userManifest),
        store: createSqlUserStore(test.db),
        clock,
        followStanding: false,
      });
      await side.start();
      const cli = sideBus.connect({ service: "cli", calls: ["user"] });
      return {
        service: side,
        call: (method, params, as = {}) =>
          cli.request(userContract, method, params, {
            ...(as.userId === undefined ? {} : { userId: as.userId }),
            ...(as.role === undefined ? {} : { role: as.role }),
          }),
        async close() {
          await side.stop();
          await sideBus.close();
        },
      };
    },
    async setupAdmin() {
      await call("createFirstAdmin", { name: adminName, password: adminPassword });
      return signIn(adminName, adminPassword);
    },
    async addUser(name, password = `${name} password`, role = "user") {
      const admin = (await store.listUsers()).find((user) => user.role === "admin" && !user.disabled);
      if (!admin) throw new Error("addUser needs an admin: call setupAdmin first");
      await call("createUser", { name, password, role }, { userId: admin.id, role: "admin" });
      return signIn(name, password);
    },
    async close() {
      await service.stop();
      await bus.close();
      await test.close();
    },
  };
}

/** The user service's migrations, for dbTargets({ prepare }). */
export const prepareUserDb = async (db: Db): Promise<void> => {
  await migrateUserStore(db);
};
