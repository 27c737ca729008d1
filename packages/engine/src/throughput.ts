// Download rate as an exponentially weighted moving average of completed requests.

export class ThroughputMeter {
  private estimate = 0;
  private samples = 0;

  constructor(private readonly weight = 0.3) {}

  record(bytes: number, elapsedMs: number): void {
    if (bytes <= 0 || elapsedMs <= 0) return;
    const rate = bytes / (elapsedMs / 1000);
    this.estimate = this.samples === 0 ? rate : this.weight * rate + (1 - this.weight) * this.estimate;
    this.samples += 1;
  }

  /** Bytes per second; 0 before the first sample. */
  get bytesPerSecond(): number {
    return this.estimate;
  }
}
