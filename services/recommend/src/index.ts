// Public entry of @soundmesh/service-recommend: the service factory and manifest, and the index build job.
export {
  createRecommendService,
  recommendManifest,
  type RecommendService,
  type RecommendServiceDeps,
} from "./recommend-service";
export {
  buildRadioIndex,
  type BuildPhase,
  type BuildProgress,
  type BuildRadioOptions,
  type BuildResult,
  type OnBuildProgress,
} from "./build-radio-index";
export { dayBuildPath, recordDayBuild } from "./index-files";
export { catalogTracks } from "./catalog-tracks";
export { loadRadioIndex, type RadioIndex } from "./radio-index";
export { readListeningSessions, closedHours } from "./listening-sessions";
export type { TrackFeatures } from "./track-features";
