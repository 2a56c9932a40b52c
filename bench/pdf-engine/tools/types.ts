/** Where each benchmarked tool reads the test key from. */
export interface KeyFile {
  p12Path: string;
  password: string;
}

/** Signs `input` into `output`, file to file. */
export type SignFile = (input: string, output: string) => Promise<void>;

/**
 * Loads the key the way a long-running worker would (once, before any document), and returns the
 * per-document signing. Whatever a tool insists on doing per document stays in SignFile.
 */
export type LoadTool = (key: KeyFile) => Promise<SignFile>;
