// Public entry of the tracker service.
export {
  createTrackerService,
  trackerManifest,
  type TrackerService,
  type TrackerServiceDeps,
} from "./tracker-service";
export { SwarmIndex, defaultSwarmLimits, renditionKey, type SwarmLimits } from "./swarm-index";
