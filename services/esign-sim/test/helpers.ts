import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_CREDENTIALS,
  generatePki,
  type Pki,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../src/index";

let sharedPki: Promise<Pki> | undefined;

/**
 * One PKI per test file: key generation (RSA-3072 included) is the slow part of a start. Its
 * certificates point at a fixed fake URL, so tests that fetch AIA/CRL URLs start without it.
 */
export function testPki(): Promise<Pki> {
  sharedPki ??= generatePki({ baseUrl: "http://127.0.0.1:9", credentials: DEFAULT_CREDENTIALS });
  return sharedPki;
}

export async function startWithTestPki(options: SimulatorOptions = {}): Promise<Simulator> {
  return startSimulator({ pki: await testPki(), ...options });
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert the answers field by field.
  json: () => any;
}

export async function http(
  url: string,
  init: {
    method?: string;
    json?: unknown;
    body?: Uint8Array;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  } = {},
): Promise<HttpAnswer> {
  const headers = {
    ...(init.json === undefined ? {} : { "content-type": "application/json" }),
    ...init.headers,
  };
  const response = await fetch(url, {
    method: init.method ?? (init.json === undefined && init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.json === undefined ? init.body : JSON.stringify(init.json),
    signal: init.signal,
  });
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body,
    json: () => JSON.parse(body.toString()),
  };
}

/** A CSC client of the simulator: fetches a token once and posts JSON with it. */
export async function cscClient(simulator: Simulator, clientId = "demo", secret = "demo-secret") {
  const token = await http(`${simulator.url}/csc/v2/oauth2/token`, {
    json: { grant_type: "client_credentials", client_id: clientId, client_secret: secret },
  });
  if (token.status !== 200) throw new Error(`token request failed: ${token.status} ${token.body}`);
  const authorization = `Bearer ${token.json().access_token}`;
  return (method: string, json: unknown) =>
    http(`${simulator.url}/csc/v2/${method}`, { json, headers: { authorization } });
}

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs openssl without blocking the event loop: the simulator it talks to lives in this process. */
export function openssl(args: string[]): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (status) =>
      resolve({ status, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }),
    );
  });
}

/** A scratch folder under the OS temp dir; `file(name, data)` writes into it and returns the path. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "esign-sim-test-"));
  return {
    dir,
    file(name: string, data: string | Uint8Array): string {
      const path = join(dir, name);
      writeFileSync(path, data);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `openssl cms -verify` of a detached DER CMS against the content whose digest was signed. */
export function opensslCmsVerify(
  cmsPath: string,
  contentPath: string,
  caFile: string,
): Promise<OpensslResult> {
  return openssl([
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-in",
    cmsPath,
    "-content",
    contentPath,
    "-CAfile",
    caFile,
    "-purpose",
    "any",
    "-out",
    "/dev/null",
  ]);
}
