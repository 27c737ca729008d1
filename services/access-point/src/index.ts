// Public entry of the access-point service.
export {
  createAccessPoint,
  accessPointManifest,
  defaultAccessPointConfig,
  type AccessPoint,
  type AccessPointList,
  type AccessPointConfig,
  type AccessPointDeps,
} from "./access-point";
export type { PushTopic } from "./push-hub";
export { SESSION_COOKIE, authenticate, type Identity, type RouteAuth } from "./auth";
export { sendProblem } from "./http-errors";
export { busRenditionReader, type Listener, type RenditionReader } from "./rendition-reader";
export { busCoverSource, coverKey, ringCoverSource, type CoverSize, type CoverSource } from "./cover-source";
export {
  readThroughOwners,
  renditionKey,
  ringRenditionReader,
  type RingRead,
  type RingRenditionReaderOptions,
} from "./ring-rendition-reader";
export { parseRange } from "./routes/stream";
export { throttleAddressOf } from "./client-network";
export { KeyedBuckets } from "./keyed-buckets";
export { iceServersFor, iceServerAddresses, iceUrlHost, type IceConfig } from "./ice-servers";
