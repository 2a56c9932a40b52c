/** Wall clock and CPU time (user + system; steadier than wall clock on a shared machine) of one piece of work. */
export interface Timing {
  ms: number;
  cpuMs: number;
}

/** The one JSON line a benchmark child prints on stdout. */
export type ChildReport =
  | ({
      ok: true;
      /** Wall clock of loading the key (once per worker in production). */
      keyMs: number;
      /** Peak resident set of the whole child (process.resourceUsage().maxRSS), KiB. */
      peakRssKiB: number;
      /** Peak resident set once the tool's modules were loaded, before the key and the work, KiB. */
      loadedRssKiB: number;
      /** Medians of the signings after the first one, when the child was asked to repeat. */
      warm?: Timing;
    } & Timing) // the first signing in a fresh process: the benchmarked time
  | { ok: false; error: string };
