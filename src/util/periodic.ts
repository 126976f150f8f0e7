// A check run now and every interval, one run at a time (a run still going when the next
// is due lets that one pass); a run that fails is reported and the next one tries again.

export class Periodic {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(
    private readonly check: () => Promise<void>,
    intervalMs: number,
    private readonly onError: (err: Error) => void,
  ) {
    this.timer = setInterval(() => this.run(), intervalMs);
    this.timer.unref();
    this.run();
  }

  /** No more runs; settles once the one in progress (if any) has. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private run(): void {
    if (this.running) return;
    this.running = this.check()
      .catch((err: Error) => this.onError(err))
      .finally(() => (this.running = undefined));
  }
}
