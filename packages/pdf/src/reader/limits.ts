import { EsignError } from "@esign/errors";

/**
 * Bounds on everything a hostile file could inflate. Every loop or recursion over
 * attacker-controlled structure is capped by one of these, so bad input fails fast with
 * E_PDF_LIMIT instead of exhausting the stack, the heap or the CPU.
 */
export interface PdfLimits {
  /** Nesting depth of arrays and dictionaries inside one object. */
  maxNestingDepth: number;
  /** Highest object number (xref /Size) we accept. */
  maxObjects: number;
  /** Largest syntax (not stream data) of a single object, in bytes. */
  maxObjectBytes: number;
  /** Largest decoded xref stream or object stream. */
  maxDecodedStreamBytes: number;
  /** Longest chain of xref sections (`/Prev`). */
  maxXrefSections: number;
  /** Depth of page-tree and field-tree recursion. */
  maxTreeDepth: number;
  /** Number of pages, fields or annotations we walk. */
  maxTreeNodes: number;
  /** Number of objects a damaged-file recovery scan may record. */
  maxRecoveredObjects: number;
}

/**
 * Defaults sized for the memory budget of a worker (a signing job stays well under 120 MB):
 * the xref table costs 13 bytes per object number, so 2M objects is at most 26 MB.
 */
export const DEFAULT_LIMITS: PdfLimits = {
  maxNestingDepth: 256,
  maxObjects: 2_000_000,
  maxObjectBytes: 8 * 1024 * 1024,
  maxDecodedStreamBytes: 32 * 1024 * 1024,
  maxXrefSections: 4096,
  maxTreeDepth: 256,
  maxTreeNodes: 1_000_000,
  maxRecoveredObjects: 2_000_000,
};

export const PDF_LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof PdfLimits)[];

export function resolveLimits(limits: Partial<PdfLimits> | undefined): PdfLimits {
  return { ...DEFAULT_LIMITS, ...limits };
}

export function corrupt(message: string, cause?: unknown): EsignError {
  return new EsignError("E_PDF_CORRUPT", message, { cause });
}

export function limitExceeded(message: string): EsignError {
  return new EsignError("E_PDF_LIMIT", message);
}
