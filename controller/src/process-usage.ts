/**
 * The controller's own CPU (percent of one core since the previous sample, as engines report theirs)
 * and resident memory, for the snapshot: the dashboard charts them beside the engines'. A sample taken
 * sooner than MIN_INTERVAL_MS after the last one repeats it, so that many status requests in a burst do
 * not turn into noise.
 */
const MIN_INTERVAL_MS = 250;

export class ProcessUsage {
  #lastCpu = process.cpuUsage();
  #lastAt = performance.now();
  #cpu = 0;
  #rss = 0;

  sample(): { cpu: number; rss: number } {
    const now = performance.now();
    if (now - this.#lastAt >= MIN_INTERVAL_MS) {
      const cpu = process.cpuUsage();
      const micros = cpu.user - this.#lastCpu.user + (cpu.system - this.#lastCpu.system);
      this.#cpu = Math.round((micros / ((now - this.#lastAt) * 1000)) * 1000) / 10;
      this.#lastCpu = cpu;
      this.#lastAt = now;
    }
    try {
      this.#rss = process.memoryUsage.rss();
    } catch {
      // It reads /proc, which needs a file descriptor: out of them (a connection flood), the last figure stands.
    }
    return { cpu: this.#cpu, rss: this.#rss };
  }
}
