// Public entry of the tracker service.
export {
  createTrackerService,
  defaultTrackerLimits,
  trackerManifest,
  type TrackerLimits,
  type TrackerService,
  type TrackerServiceDeps,
} from "./tracker-service";
export { FetchLog, type FetchLogLimits } from "./fetch-log";
export { SignalGate, defaultSignalLimits, type SignalLimits } from "./signal-gate";
export {
  SwarmIndex,
  defaultSwarmLimits,
  renditionKey,
  type PeerIdentity,
  type SwarmLimits,
} from "./swarm-index";
