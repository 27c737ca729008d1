// Alerts deduplicated by key: each evaluation names the conditions that hold; new ones are raised, vanished ones
// resolved, and both kept on a bounded timeline.
import type { AlertEvent, TopologyAlert } from "@soundmesh/protocol";

export type AlertCondition = Omit<TopologyAlert, "firstSeenMs" | "lastSeenMs">;

export class AlertBook {
  private readonly active = new Map<string, TopologyAlert>();
  private readonly events: AlertEvent[] = [];

  constructor(
    private readonly onEvent: (event: AlertEvent) => void,
    private readonly timelineLength = 500,
  ) {}

  /** Applies one evaluation: `conditions` are every alert that holds now. */
  update(atMs: number, conditions: readonly AlertCondition[]): void {
    const holding = new Map(conditions.map((condition) => [condition.key, condition]));
    // Resolutions first, so an alert that changes severity reads "resolved degraded, raised failing".
    for (const [key, alert] of this.active) {
      if (holding.has(key)) continue;
      this.active.delete(key);
      this.record({ event: "resolved", atMs, alert: { ...alert } });
    }
    for (const condition of holding.values()) {
      const known = this.active.get(condition.key);
      if (known) {
        known.lastSeenMs = atMs;
        known.message = condition.message;
        continue;
      }
      const alert: TopologyAlert = { ...condition, firstSeenMs: atMs, lastSeenMs: atMs };
      this.active.set(alert.key, alert);
      this.record({ event: "raised", atMs, alert: { ...alert } });
    }
  }

  private record(event: AlertEvent): void {
    this.events.push(event);
    if (this.events.length > this.timelineLength) this.events.shift();
    this.onEvent(event);
  }

  current(): TopologyAlert[] {
    return [...this.active.values()].map((alert) => ({ ...alert }));
  }

  timeline(): AlertEvent[] {
    return [...this.events];
  }
}
