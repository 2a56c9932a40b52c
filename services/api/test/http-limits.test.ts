/**
 * The gateway's HTTP edges, in process on real Redis and a real local store (no worker: jobs stay
 * queued): slow and stalled clients over raw sockets, refused bodies, content types, and where
 * uploads of a prefix-limited tenant go.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import { SigningClient } from "@esign/jobs";
import { createStores } from "@esign/storage";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi, parseApiConfig } from "../src";

const REQUEST_TIMEOUT_MS = 1_000;
const MAX_UPLOAD_BYTES = 200_000;
const QUEUE_PREFIX = `{esign-limits-${randomBytes(4).toString("hex")}}`;
const DEV_KEY = `devkey-${randomBytes(12).toString("hex")}`;
const ACME_KEY = `acme-${randomBytes(12).toString("hex")}`;
const BETA_KEY = `beta-${randomBytes(12).toString("hex")}`;
const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");
/** A tenant limited to one prefix of the default store. */
const ACME = { stores: { default: ["acme/"] }, uploadPrefix: "acme/in/" };
/** The same without an upload prefix: the gateway's defaults must stay inside `beta/`. */
const BETA = { stores: { default: ["beta/"] } };

let app: FastifyInstance;
let port: number;
let dataDir: string;
let logs = "";

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "esign-api-limits-"));
  const config = parseApiConfig({
    port: 0,
    redisUrl: "redis://127.0.0.1:6379",
    queuePrefix: QUEUE_PREFIX,
    dataDir,
    devApiKey: DEV_KEY,
    tenants: { acme: ACME, beta: BETA },
    apiKeys: [
      { sha256: sha256hex(ACME_KEY), tenant: "acme", name: "acme" },
      { sha256: sha256hex(BETA_KEY), tenant: "beta", name: "beta" },
    ],
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    maxUploadBytes: MAX_UPLOAD_BYTES,
    syncTimeoutMs: 500,
    logLevel: "info",
  });
  // The gateway's own log lines, to see at which level a refused or aborted request is logged.
  app = await buildApi({
    config,
    logDestination: {
      write: (line: string) => {
        logs += line;
      },
    },
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await app?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A raw connection that sends `text` (CRLF line ends) and keeps quiet: what it received, once closed. */
async function rawSend(text: string): Promise<{ closed: Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(received)));
  socket.on("error", () => undefined);
  socket.write(text.replaceAll("\n", "\r\n"));
  return { closed };
}

/** Complete request headers, then `body` (which may be shorter than the content-length it declares). */
const rawRequest = (head: string, body = "") => rawSend(`${head}\n\n${body}`);

async function closesWithin(closed: Promise<string>, ms: number): Promise<string> {
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`the connection was still open after ${ms} ms`)), ms),
  );
  return Promise.race([closed, timer]);
}

async function uploadedObjects(): Promise<string[]> {
  return (await readdir(join(dataDir, "objects"), { recursive: true }).catch(() => [])) as string[];
}

describe("slow and stalled clients", () => {
  it("closes a connection that sends part of its headers and stalls", async () => {
    const { closed } = await rawSend("POST /v1/sign HTTP/1.1\nhost: x\nx-slow: 1");
    await closesWithin(closed, REQUEST_TIMEOUT_MS * 3);
  });

  it("aborts a PDF upload that stalls mid-body, logs it at info and keeps no partial object", async () => {
    const before = await uploadedObjects();
    const { closed } = await rawRequest(
      `POST /v1/sign HTTP/1.1\nhost: x\nauthorization: Bearer ${DEV_KEY}\ncontent-type: application/pdf\ncontent-length: 100000`,
      "%PDF-1.7\n% a document that never ends\n",
    );
    await closesWithin(closed, REQUEST_TIMEOUT_MS * 3);
    // The gateway logs after its side of the socket has closed: on a loaded box, later than ours.
    await expect.poll(() => logs, { timeout: 5_000 }).toMatch(/"level":30[^\n]*"msg":"upload aborted"/);
    expect(logs).not.toMatch(/"level":50/);
    expect((await uploadedObjects()).filter((name) => name.endsWith(".pdf"))).toEqual(
      before.filter((name) => name.endsWith(".pdf")),
    );
  });

  it.each([
    ["no key (401)", "", "application/pdf", 401],
    ["a wrong content type (415)", `authorization: Bearer ${DEV_KEY}\n`, "application/json", 415],
  ])("answers %s with connection: close without reading the body", async (_, auth, type, status) => {
    const { closed } = await rawRequest(
      `POST /v1/sign HTTP/1.1\nhost: x\n${auth}content-type: ${type}\ncontent-length: 1000000`,
      "%PDF-1.7\n",
    );
    // The body never comes: the answer and the close must not wait for it (nor for the timeout).
    const answer = await closesWithin(closed, REQUEST_TIMEOUT_MS / 2);
    expect(answer).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(answer.toLowerCase()).toContain("connection: close");
  });
});

describe("refused uploads", () => {
  const PDF = "%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
  const upload = (path: string, body: string | (() => ReadableStream)) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/pdf" },
      // A stream goes chunked, without a content-length: the limit is found while storing it.
      body: typeof body === "string" ? body : body(),
      duplex: "half",
    } as RequestInit);
  /** A PDF header, then more bytes than the upload limit, in 16 KiB chunks. */
  const overLimit = () => {
    let sent = 0;
    return new ReadableStream({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(sent === 0 ? PDF : "x".repeat(16 * 1024)));
        sent += 1;
        if (sent * 16 * 1024 > MAX_UPLOAD_BYTES * 1.5) controller.close();
      },
    });
  };
  const storedPdfs = async () => (await uploadedObjects()).filter((name) => name.endsWith(".pdf")).sort();

  it.each([
    ["an idempotency key the job schema refuses", "/v1/sign?idempotencyKey=not:allowed", PDF, 400],
    ["appearance options the job schema refuses", "/v1/sign?rect=0,0,90,40&anchor=Sign%20here", PDF, 400],
    ["a body that is not a PDF", "/v1/sign", "just text, no PDF header at all", 415],
    ["a body over the upload limit", "/v1/jobs/upload", overLimit, 413],
  ])("leave nothing in storage: %s", async (_, path, body, status) => {
    const before = await storedPdfs();
    const response = await upload(path, body);
    expect(response.status, await response.clone().text()).toBe(status);
    expect(await storedPdfs()).toEqual(before);
  });

  it("a retry with the same idempotency key keeps only the upload its job signs", async () => {
    const path = `/v1/sign?wait=0&idempotencyKey=retry-${randomBytes(4).toString("hex")}`;
    const before = await storedPdfs();
    const first = await upload(path, PDF);
    expect(first.status, await first.clone().text()).toBe(202);
    const afterFirst = await storedPdfs();
    expect(afterFirst.length).toBe(before.length + 1);
    const retried = await upload(path, PDF);
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect(await storedPdfs()).toEqual(afterFirst);
  });
});

describe("callback URLs in the gateway's log", () => {
  const PDF = "%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
  const SECRET = `pw${randomBytes(6).toString("hex")}`;
  const TOKEN = `tk${randomBytes(6).toString("hex")}`;
  const callbackUrl = `https://erp:${SECRET}@erp.example.com/hooks?token=${TOKEN}`;
  const send = (path: string, type: string, body: string) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": type },
      body,
    });

  it("never carry the URL's credentials or query, whatever the request did", async () => {
    const encoded = encodeURIComponent(callbackUrl);
    const answers = [
      await send(`/v1/sign?wait=0&callbackUrl=${encoded}`, "application/pdf", PDF),
      // Refused requests are logged too: a misspelt option, a second value, a malformed URL.
      await send(`/v1/sign?callbackURL=${encoded}`, "application/pdf", PDF),
      await send(`/v1/sign?callbackUrl=${encoded}&callbackUrl=${encoded}x`, "application/pdf", PDF),
      await send(`/v1/sign?callbackUrl=https%3A%2F%2Ferp%3A${SECRET}%40`, "application/pdf", PDF),
      await send(
        "/v1/jobs",
        "application/json",
        JSON.stringify({ input: { store: "default", key: "in/cb.pdf" }, callback: { url: callbackUrl } }),
      ),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([202, 400, 400, 400, 202]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The requests were logged (their URLs included), with the receiver's host but no secret.
    expect(logs).toContain("erp.example.com");
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(TOKEN);
  });
});

describe("content types", () => {
  const post = (path: string, type: string, body: string) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": type },
      body,
    });

  it.each([
    ["/v1/sign", "application/json", JSON.stringify({ pdf: "x" })],
    ["/v1/sign", "text/plain", "%PDF-1.7 as text"],
    ["/v1/verify", "application/json", "{}"],
    ["/v1/jobs/upload", "text/plain", "hello"],
  ])("%s refuses %s with 415 E_UNSUPPORTED_MEDIA", async (path, type, body) => {
    const response = await post(path, type, body);
    expect(response.status).toBe(415);
    const { error } = (await response.json()) as {
      error: { code: string; message: string; permanent: boolean };
    };
    expect(error).toMatchObject({ code: "E_UNSUPPORTED_MEDIA", permanent: true });
    expect(error.message).not.toMatch(/TypeError|undefined|\bat\b/);
  });

  it("answers broken multipart with 400 E_UPLOAD_ABORTED, not an internal error", async () => {
    for (const path of ["/v1/sign", "/v1/verify"]) {
      const truncated = await post(
        path,
        "multipart/form-data; boundary=XYZ",
        '--XYZ\r\ncontent-disposition: form-data; name="document"; filename="a.pdf"\r\ncontent-type: application/pdf\r\n\r\n%PDF-1.7\n',
      );
      expect(truncated.status, path).toBe(400);
      expect(((await truncated.json()) as { error: { code: string } }).error.code).toBe("E_UPLOAD_ABORTED");
      const noBoundary = await post(path, "multipart/form-data", "garbage");
      expect(noBoundary.status, path).toBe(400);
    }
  });
});

describe("outputs the store would refuse", () => {
  const submit = (output: { store: string; key: string }) =>
    fetch(`http://127.0.0.1:${port}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { store: "default", key: "in/a.pdf" }, output }),
    });

  it("are refused at submission, before any job exists", async () => {
    const file = `taken/${randomBytes(4).toString("hex")}.pdf`;
    const stores = createStores({ default: { type: "local", root: join(dataDir, "objects") } });
    await stores.get("default").write(file, [Buffer.from("a file where a folder is needed")]);
    await stores.close();
    for (const key of [`${file}/out.pdf`, "taken", "out/x.esign-partial", "out/", "out/../x.pdf"]) {
      const response = await submit({ store: "default", key });
      expect(response.status, key).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code, key).toMatch(/^E_(INVALID_JOB|INVALID_REQUEST)$/);
      expect(error.message, key).not.toContain(dataDir);
    }
  });
});

describe("tenant boundaries", () => {
  const PDF = "%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

  it.each(["/v1/jobs/upload", "/v1/sign?wait=0"])(
    "%s keeps the signed copy inside a prefix-limited tenant's area",
    async (path) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ACME_KEY}`, "content-type": "application/pdf" },
        body: PDF,
      });
      expect(response.status, await response.clone().text()).toBe(202);
      const { id } = (await response.json()) as { id: string };
      const job = await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`, {
        headers: { authorization: `Bearer ${ACME_KEY}` },
      });
      const { input, output } = (await job.json()) as { input: { key: string }; output: { key: string } };
      expect(input.key).toMatch(/^acme\/in\//);
      expect(output.key).toMatch(/^acme\/in\/signed\//);
    },
  );

  it("without an upload prefix, uploads and inline batches' manifests stay inside the tenant's area", async () => {
    const auth = { authorization: `Bearer ${BETA_KEY}` };
    const uploaded = await fetch(`http://127.0.0.1:${port}/v1/jobs/upload`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/pdf" },
      body: PDF,
    });
    expect(uploaded.status, await uploaded.clone().text()).toBe(202);
    const { id } = (await uploaded.json()) as { id: string };
    const job = await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`, { headers: auth });
    const { input, output } = (await job.json()) as { input: { key: string }; output: { key: string } };
    expect(input.key).toMatch(/^beta\/uploads\/\d{4}-\d\d-\d\d\//);
    expect(output.key).toMatch(/^beta\/uploads\/signed\//);

    const batch = await fetch(`http://127.0.0.1:${port}/v1/batches`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ items: [{ input: { store: "default", key: "beta/b.pdf" } }] }),
    });
    expect(batch.status, await batch.clone().text()).toBe(202);
    const created = (await batch.json()) as { id: string };
    const status = await fetch(`http://127.0.0.1:${port}/v1/batches/${created.id}`, { headers: auth });
    const { manifest } = (await status.json()) as { manifest: { key: string } };
    expect(manifest.key).toBe(`beta/uploads/batches/${created.id}.manifest.jsonl`);
  });

  const postJson = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ACME_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("POST /v1/jobs with an object reference and no output signs into the tenant's area", async () => {
    const input = { store: "default", key: "acme/contracts/a.pdf" };
    const response = await postJson("/v1/jobs", { input });
    expect(response.status, await response.clone().text()).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const job = await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`, {
      headers: { authorization: `Bearer ${ACME_KEY}` },
    });
    expect(((await job.json()) as { output: unknown }).output).toEqual({
      store: "default",
      key: "acme/signed/contracts/a.pdf",
    });
    const outside = await postJson("/v1/jobs", { input, output: { store: "default", key: "signed/a.pdf" } });
    expect(outside.status).toBe(403);
    expect(((await outside.json()) as { error: { code: string } }).error.code).toBe("E_FORBIDDEN");
  });

  it("POST /v1/batches checks each inline item's output, the default one included, at submission", async () => {
    const accepted = await postJson("/v1/batches", {
      items: [{ input: { store: "default", key: "acme/b/1.pdf" } }],
    });
    expect(accepted.status, await accepted.clone().text()).toBe(202);
    // The next item's default output is acme/signed/b/2.pdf; with a file at acme/signed/b it cannot
    // be written, so it is refused before anything is signed.
    const stores = createStores({ default: { type: "local", root: join(dataDir, "objects") } });
    await stores.get("default").write("acme/signed/b", [Buffer.from("a file where a folder is needed")]);
    await stores.close();
    const underAFile = await postJson("/v1/batches", {
      items: [{ input: { store: "default", key: "acme/b/2.pdf" } }],
    });
    expect(underAFile.status, await underAFile.clone().text()).toBe(400);
    expect(((await underAFile.json()) as { error: { code: string } }).error.code).toBe("E_INVALID_JOB");
    const outside = await postJson("/v1/batches", {
      items: [
        { input: { store: "default", key: "acme/b/3.pdf" }, output: { store: "default", key: "b/3.pdf" } },
      ],
    });
    expect(outside.status).toBe(403);
  });

  it("keeps each tenant's idempotency keys its own, and never answers with a job that is not", async () => {
    const key = `inv-${randomBytes(4).toString("hex")}`;
    const submit = (authorization: string, input: string) =>
      fetch(`http://127.0.0.1:${port}/v1/jobs`, {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify({ input: { store: "default", key: input }, idempotencyKey: key }),
      });
    const acme = await submit(`Bearer ${ACME_KEY}`, "acme/i.pdf");
    const dev = await submit(`Bearer ${DEV_KEY}`, "dev/i.pdf");
    expect([acme.status, dev.status]).toEqual([202, 202]);
    const ids = [((await acme.json()) as { id: string }).id, ((await dev.json()) as { id: string }).id];
    expect(ids[0]).not.toBe(ids[1]);
    // A producer outside the gateway that happened to use acme's scoped id: acme is refused, not
    // handed that job.
    const producer = new SigningClient({
      connection: { host: "127.0.0.1", port: 6379 },
      prefix: QUEUE_PREFIX,
    });
    const taken = `taken-${randomBytes(4).toString("hex")}`;
    await producer.submit({
      input: { store: "default", key: "x/i.pdf" },
      signer: "default",
      idempotencyKey: `acme.${taken}`,
    });
    await producer.close();
    const refused = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${ACME_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { store: "default", key: "acme/i.pdf" }, idempotencyKey: taken }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("E_FORBIDDEN");
    // The same through an upload: refused, and the uploaded PDF is not kept.
    const pdfs = async () => (await uploadedObjects()).filter((name) => name.endsWith(".pdf"));
    const before = await pdfs();
    const upload = await fetch(`http://127.0.0.1:${port}/v1/sign?wait=0&idempotencyKey=${taken}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ACME_KEY}`, "content-type": "application/pdf" },
      body: PDF,
    });
    expect(upload.status).toBe(403);
    expect(await pdfs()).toEqual(before);
  });

  it("refuses tenant names that could make two tenants' idempotency keys collide", () => {
    const refused = (tenant: string) => {
      try {
        parseApiConfig({ redisUrl: "redis://127.0.0.1:6379", tenants: { [tenant]: ACME } });
        return undefined;
      } catch (error) {
        return isEsignError(error) ? error.code : String(error);
      }
    };
    expect(refused("acme.eu")).toBe("E_CONFIG");
    expect(refused("../x")).toBe("E_CONFIG");
    expect(refused("acme-eu")).toBeUndefined();
  });
});
