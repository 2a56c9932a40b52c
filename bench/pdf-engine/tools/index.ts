import type { LoadTool } from "./types";

/**
 * The benchmarked tools, each loaded only inside its own child process so that one tool's
 * modules never count towards another's memory.
 */
export const TOOLS = {
  esign: {
    label: "esign-agent `signPdf` B-B",
    load: async (): Promise<LoadTool> => (await import("./esign")).loadEsign,
  },
  "signpdf-pdf-lib": {
    label: "@signpdf placeholder-pdf-lib",
    load: async (): Promise<LoadTool> => (await import("./signpdf")).loadSignpdfPdfLib,
  },
  "signpdf-plain": {
    label: "@signpdf placeholder-plain",
    load: async (): Promise<LoadTool> => (await import("./signpdf")).loadSignpdfPlain,
  },
} as const;

export type ToolName = keyof typeof TOOLS;

export function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOLS, name);
}
