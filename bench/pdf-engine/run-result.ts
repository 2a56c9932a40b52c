/** The one JSON line a benchmark child prints on stdout. */
export type ChildReport =
  | {
      ok: true;
      /** Wall clock of loading the key (once per worker in production). */
      keyMs: number;
      /** Wall clock of signing the document, file to file: the benchmarked time. */
      ms: number;
      /** CPU time (user + system) of the same work: steadier than wall clock on a shared machine. */
      cpuMs: number;
      /** Peak resident set of the whole child (process.resourceUsage().maxRSS), KiB. */
      peakRssKiB: number;
      /** Peak resident set once the tool's modules were loaded, before the key and the work, KiB. */
      loadedRssKiB: number;
    }
  | { ok: false; error: string };
