// Scanning: getScanStatus (anyone) and startScan (administrators), on the catalog's scans.
import { catalogContract, type ScanStatus } from "@soundmesh/protocol";
import type { MethodContext, MethodTable } from "../context";
import type { Body } from "../response";

function statusOf(status: ScanStatus): Body {
  return {
    scanning: status.running,
    count: status.running ? status.done : status.total,
    folderCount: 1,
    lastScan: status.finishedAt === null ? undefined : new Date(status.finishedAt).toISOString(),
  };
}

/** The catalog answers scan status to administrators only: others ask it as the service itself does. */
function scanStatus(context: MethodContext): Promise<ScanStatus> {
  return context.deps.bus.request(catalogContract, "scanStatus", {}, { traceId: context.request.id });
}

export const scanningMethods: MethodTable = {
  async getScanStatus(context) {
    return { scanStatus: statusOf(await scanStatus(context)) };
  },
  async startScan(context) {
    const full = context.params.optionalBool("fullScan") ?? false;
    await context.call(catalogContract, "scan", { full, allowMassRemoval: false });
    return { scanStatus: statusOf(await scanStatus(context)) };
  },
};
