// Public entry of the access-point service.
export {
  createAccessPoint,
  accessPointManifest,
  defaultAccessPointConfig,
  type AccessPoint,
  type AccessPointConfig,
  type AccessPointDeps,
} from "./access-point";
export type { PushTopic } from "./push-hub";
export { SESSION_COOKIE, authenticate, type Identity } from "./auth";
export { sendProblem } from "./http-errors";
export { registerStreamRoutes, parseRange, type ReadContext, type RenditionReader } from "./stream-routes";
export { registerCoverRoute } from "./cover-route";
export { throttleAddressOf } from "./client-network";
export { KeyedBuckets } from "./keyed-buckets";
