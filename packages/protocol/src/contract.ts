// How a service declares its methods and events: zod schemas that both the caller and the callee check.
import type { z } from "zod";

export interface MethodContract<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P;
  result: R;
  /** Whether clients may call this method through the access point's WebSocket. */
  exposed?: boolean;
  /** Whether an exposed method needs the admin role. */
  adminOnly?: boolean;
}

export interface ServiceContract<
  N extends string = string,
  M extends Record<string, MethodContract> = Record<string, MethodContract>,
> {
  service: N;
  methods: M;
}

export interface EventContract<T extends string = string, P extends z.ZodType = z.ZodType> {
  topic: T;
  payload: P;
}

export function defineService<N extends string, M extends Record<string, MethodContract>>(
  service: N,
  methods: M,
): ServiceContract<N, M> {
  return { service, methods };
}

export function defineEvent<T extends string, P extends z.ZodType>(
  topic: T,
  payload: P,
): EventContract<T, P> {
  return { topic, payload };
}

export type ParamsOf<C extends ServiceContract, K extends keyof C["methods"]> = z.input<
  C["methods"][K]["params"]
>;
export type ResultOf<C extends ServiceContract, K extends keyof C["methods"]> = z.output<
  C["methods"][K]["result"]
>;

/** The handlers a service provides for its contract; `ctx` carries who called and the trace id. */
export type HandlersOf<C extends ServiceContract, Ctx = CallContext> = {
  [K in keyof C["methods"]]: (
    params: z.output<C["methods"][K]["params"]>,
    ctx: Ctx,
  ) => Promise<z.input<C["methods"][K]["result"]>> | z.input<C["methods"][K]["result"]>;
};

/** Headers every bus message carries. */
export interface CallContext {
  caller: string;
  traceId: string;
  /** The signed-in user on whose behalf a client request runs, when there is one. */
  userId?: string;
  role?: "admin" | "user";
  /** The client session a request came through (signaling, "keep this session" on password change). */
  sessionId?: string;
  /** The client's P2P pseudonym (tracker, signaling). */
  peerId?: string;
}
