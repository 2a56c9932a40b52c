import type { Runtime } from "./runner";
import { TOOLS, type ToolName } from "./tools/index";

/** One column of the benchmark: a tool started in one runtime. */
export interface Variant {
  id: string;
  tool: ToolName;
  runtime: Runtime["kind"];
  label: string;
}

/**
 * Every tool the way the project runs (tsx); our engine once more as a plain-node bundle, to
 * separate the engine's memory from tsx's loader thread.
 */
export const VARIANTS: Variant[] = [
  { id: "esign", tool: "esign", runtime: "tsx", label: TOOLS.esign.label },
  {
    id: "esign-bundled",
    tool: "esign",
    runtime: "bundled",
    label: `${TOOLS.esign.label}, plain node (bundled)`,
  },
  { id: "signpdf-pdf-lib", tool: "signpdf-pdf-lib", runtime: "tsx", label: TOOLS["signpdf-pdf-lib"].label },
  { id: "signpdf-plain", tool: "signpdf-plain", runtime: "tsx", label: TOOLS["signpdf-plain"].label },
];
