/**
 * The HTTP gateway, started the way a user starts it (`pnpm start`, the all-in-one default), over
 * real HTTP: sign, auth, tenant isolation, upload limits, OpenAPI, and Standard Webhooks callbacks.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SigningUsageReportSchema } from "@esign/jobs";
import { REPO_ROOT, run, SAMPLES_DIR, textInRegion, validate } from "@esign/testkit";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const MAX_UPLOAD = 5 * 1024 * 1024;
/** The password of the encrypted input; the agent knows it as the secret `invoices` of its signer profile. */
const PDF_PASSWORD = `pdf-${randomBytes(9).toString("hex")}`;

let agent: RunningAgent;
let base: string;
let simUrl: string;
let work: string;
let DEV_KEY: string;
let OTHER_KEY: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "esign-api-"));
  agent = await startAllInOne({
    ESIGN_WEBHOOK_SECRET: WEBHOOK_SECRET,
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    WEBHOOK_ALLOW_CIDRS: "127.0.0.0/8",
    WEBHOOK_RETRY_BASE_DELAY_MS: "200",
    ESIGN_PDF_PASSWORDS: JSON.stringify({ invoices: { env: "API_TEST_PDF_PASSWORD" } }),
    API_TEST_PDF_PASSWORD: PDF_PASSWORD,
  });
  ({ base, simUrl, devKey: DEV_KEY, otherKey: OTHER_KEY } = agent);
});

afterAll(() => agent?.stop());

/** Response bodies are checked by the assertions that read them; the cast only names what we expect. */
// biome-ignore lint/suspicious/noExplicitAny: each body is asserted field by field where it is read
const json = async <T = Record<string, any>>(response: Response) => (await response.json()) as T;

const auth = (key = DEV_KEY) => ({ authorization: `Bearer ${key}` });

async function postPdf(
  path: string,
  body: Uint8Array | ReadableStream,
  key?: string,
  extra: Record<string, string> = {},
) {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/pdf", ...(key === undefined ? {} : auth(key)), ...extra },
    body,
    duplex: "half",
  } as RequestInit);
}

/**
 * The signed PDF of a 200 answer: the input's bytes followed by revisions that validate.sh accepts
 * with the simulator's root. Returns the PDF, where it was written, and the root's file.
 */
async function expectValidSigned(
  response: Response,
  input: Buffer,
  name: string,
  options: { pdfPassword?: string } = {},
) {
  expect(response.status, await response.clone().text()).toBe(200);
  const signed = Buffer.from(await response.arrayBuffer());
  expect(signed.subarray(0, input.length).equals(input)).toBe(true);
  const out = join(work, name);
  await writeFile(out, signed);
  const root = join(work, "sim-root.pem");
  await writeFile(root, await (await fetch(`${simUrl}/pki/root.pem`)).text());
  const verdict = await validate(out, root, options);
  expect(verdict.failures, verdict.output).toEqual([]);
  return { signed, out, root };
}

describe("the gateway started with pnpm start", () => {
  it("prints the API URL, the dev key and a curl line", () => {
    expect(agent.output()).toContain(base);
    expect(agent.output()).toContain(DEV_KEY);
    expect(agent.output()).toMatch(/curl --data-binary @in\.pdf .*\/v1\/sign/);
  });

  it("POST /v1/sign returns a signed PDF that validate.sh accepts with the simulator's root", async () => {
    const input = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
    const response = await postPdf("/v1/sign", input, DEV_KEY);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    const { signed, out, root } = await expectValidSigned(response, input, "signed.pdf");

    // The same file through POST /v1/verify: intact and trusted against the simulator's root, but
    // a B-B signature carries no revocation data while its certificate names an OCSP responder,
    // so a relying party cannot conclude yet (ETSI EN 319 102-1: INDETERMINATE / TRY_LATER).
    const verified = await postPdf("/v1/verify", signed, DEV_KEY);
    expect(verified.headers.get("content-type")).toMatch(/^application\/json/);
    const reportText = await verified.text();
    const report = JSON.parse(reportText);
    expect(report.ok).toBe(false);
    expect(report.signatures).toHaveLength(1);
    expect(report.signatures[0]).toMatchObject({
      level: "B-B",
      valid: true,
      trusted: true,
      coversWholeFile: true,
      modifications: "none",
      indication: "INDETERMINATE",
      subIndication: "TRY_LATER",
    });
    // ... and `esign verify --json` with the same root prints the very same bytes (exit 1: not TOTAL-PASSED).
    const esignVerify = (...args: string[]) =>
      run(process.execPath, [
        join(REPO_ROOT, "packages/cli/bin/esign.mjs"),
        "verify",
        out,
        "--trust",
        root,
        ...args,
      ]).then(
        ({ stdout }) => ({ stdout, code: 0 }),
        (error: { stdout: string; code: number }) => ({ stdout: error.stdout, code: error.code }),
      );
    const cli = await esignVerify("--json");
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe(reportText);

    // The ETSI TS 119 102-2 XML report: the same bytes from the API and from the CLI.
    const etsi = await postPdf("/v1/verify?report=etsi", signed, DEV_KEY);
    expect(etsi.headers.get("content-type")).toMatch(/^application\/xml/);
    const etsiText = await etsi.text();
    expect(etsiText).toContain("urn:etsi:019102:mainindication:indeterminate");
    const cliEtsi = await esignVerify("--report", "etsi");
    expect(cliEtsi.stdout).toBe(etsiText);
  });

  it("accepts the PDF as multipart/form-data with the options as fields", async () => {
    const input = await readFile(join(SAMPLES_DIR, "hybrid-xref.pdf"));
    const form = new FormData();
    form.set("reason", "Approved by multipart");
    form.set("field", "Multipart");
    form.set("document", new Blob([input], { type: "application/pdf" }), "contract.pdf");
    const response = await fetch(`${base}/v1/sign`, { method: "POST", headers: auth(), body: form });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get("x-esign-signature-field")).toBe("Multipart");
    const signed = Buffer.from(await response.arrayBuffer());
    expect(signed.subarray(0, input.length).equals(input)).toBe(true);
    expect(signed.subarray(input.length).toString("latin1")).toContain("(Approved by multipart)");
  });

  it("signs an encrypted PDF whose password secret the request names; the password is in no job or log", async () => {
    const encrypted = join(work, "encrypted.pdf");
    const owner = randomBytes(9).toString("hex");
    await run("qpdf", [
      "--encrypt",
      PDF_PASSWORD,
      owner,
      "256",
      "--",
      join(SAMPLES_DIR, "chromium-invoice.pdf"),
      encrypted,
    ]);
    const input = await readFile(encrypted);
    const response = await postPdf("/v1/sign?pdfPasswordSecret=invoices", input, DEV_KEY);
    await expectValidSigned(response, input, "encrypted-signed.pdf", { pdfPassword: PDF_PASSWORD });

    // Without the reference the file does not open; the job (in Redis, in the answer) names only the secret.
    const unnamed = await postPdf("/v1/sign", input, DEV_KEY);
    expect((await json(unnamed)).error.code).toBe("E_PASSWORD");
    const job = await json(
      await fetch(`${base}/v1/jobs/${response.headers.get("x-esign-job-id")}`, { headers: auth() }),
    );
    expect(JSON.stringify(job)).not.toContain(PDF_PASSWORD);
    expect(agent.output()).not.toContain(PDF_PASSWORD);
  });

  it("draws a visible seal at a text anchor from the options of POST /v1/sign", async () => {
    const input = await readFile(join(REPO_ROOT, "packages/appearance/test/fixtures/gs-contract.pdf"));
    const text = encodeURIComponent("Approved by {name}\n签名：人事部");
    const response = await postPdf(
      `/v1/sign?anchor=${encodeURIComponent("{{seal}}")}&size=200,50&text=${text}`,
      input,
      DEV_KEY,
    );
    expect(response.status, await response.clone().text()).toBe(200);
    const out = join(work, "visible.pdf");
    await writeFile(out, Buffer.from(await response.arrayBuffer()));
    // "{{seal}}" is on page 2 at x=300 on the baseline y=200; the seal's lower-left corner goes there.
    const sealText = await textInRegion(out, 2, [300, 197, 500, 247], 842);
    expect(sealText).toContain("签名：人事部");
    expect(sealText).toContain("Approved by");
    const root = join(work, "sim-root.pem");
    await writeFile(root, await (await fetch(`${simUrl}/pki/root.pem`)).text());
    const verdict = await validate(out, root);
    expect(verdict.failures, verdict.output).toEqual([]);

    const missing = await postPdf("/v1/sign?anchor=Nowhere", input, DEV_KEY);
    expect(missing.status).toBe(422);
    expect((await json(missing)).error).toMatchObject({ code: "E_APPEARANCE", permanent: true });
  });

  it("signs with a seal template PUT for the tenant; another tenant can neither see nor use it", async () => {
    const fixtures = join(REPO_ROOT, "packages/appearance/test/fixtures");
    const input = await readFile(join(fixtures, "gs-contract.pdf"));
    const name = `hr-${randomBytes(4).toString("hex")}`;
    const putTemplate = (template: object, image: Uint8Array, key = DEV_KEY) => {
      const form = new FormData();
      form.set("template", JSON.stringify(template));
      form.set("image", new Blob([image], { type: "image/png" }), "seal.png");
      return fetch(`${base}/v1/templates/${name}`, { method: "PUT", headers: auth(key), body: form });
    };
    const put = await putTemplate(
      { text: "人事部印章\n{name}", size: [200, 50], border: { width: 1, color: "#aa0000" } },
      await readFile(join(fixtures, "stamp.png")),
    );
    expect(put.status, await put.clone().text()).toBe(200);
    expect(await json(put)).toMatchObject({
      name,
      image: { type: "png" },
      style: { text: "人事部印章\n{name}" },
    });
    const listed = await json(await fetch(`${base}/v1/templates`, { headers: auth() }));
    expect(listed.templates.map((template: { name: string }) => template.name)).toContain(name);

    const sign = `/v1/sign?template=${name}&anchor=${encodeURIComponent("{{seal}}")}`;
    const response = await postPdf(sign, input, DEV_KEY);
    expect(response.status, await response.clone().text()).toBe(200);
    const out = join(work, "tenant-template.pdf");
    await writeFile(out, Buffer.from(await response.arrayBuffer()));
    // "{{seal}}" is on page 2 at x=300 on the baseline y=200; the template's size is 200 x 50.
    expect(await textInRegion(out, 2, [300, 197, 500, 247], 842)).toContain("人事部印章");
    // The uploaded stamp is drawn too (the input has no image of its own).
    expect((await readFile(out)).includes("/Subtype /Image")).toBe(true);
    const root = join(work, "sim-root.pem");
    await writeFile(root, await (await fetch(`${simUrl}/pki/root.pem`)).text());
    const verdict = await validate(out, root);
    expect(verdict.failures, verdict.output).toEqual([]);

    // A replaced template takes effect for the next job (workers cache by version).
    const replaced = await putTemplate(
      { text: "财务部印章", size: [200, 50] },
      await readFile(join(fixtures, "stamp.png")),
    );
    expect(replaced.status).toBe(200);
    const again = await postPdf(sign, input, DEV_KEY);
    expect(again.status).toBe(200);
    const replacedOut = join(work, "tenant-template-replaced.pdf");
    await writeFile(replacedOut, Buffer.from(await again.arrayBuffer()));
    expect(await textInRegion(replacedOut, 2, [300, 197, 500, 247], 842)).toContain("财务部印章");

    // Another tenant: not listed, not found, and its job naming it fails.
    const foreignGet = await fetch(`${base}/v1/templates/${name}`, { headers: auth(OTHER_KEY) });
    expect(foreignGet.status).toBe(404);
    const foreignList = await json(await fetch(`${base}/v1/templates`, { headers: auth(OTHER_KEY) }));
    expect(foreignList.templates).toEqual([]);
    const foreignSign = await postPdf(sign, input, OTHER_KEY);
    expect(foreignSign.status).toBe(422);
    expect((await json(foreignSign)).error).toMatchObject({ code: "E_APPEARANCE", permanent: true });

    // A corrupt image is refused at upload; the stored template is unchanged.
    const corrupt = await putTemplate({ text: "x" }, Buffer.from("\x89PNG\r\n\x1a\nnot really a png"));
    expect(corrupt.status).toBe(422);
    expect((await json(corrupt)).error.code).toBe("E_APPEARANCE");
    const oversized = await putTemplate({}, Buffer.alloc(1024 * 1024 + 1, 0x89));
    expect(oversized.status).toBe(413);
    expect((await json(oversized)).error.code).toBe("E_TOO_LARGE");
    const typo = await putTemplate({ text: "{nmae}" }, await readFile(join(fixtures, "stamp.png")));
    expect(typo.status).toBe(422);
    expect((await json(typo)).error.message).toContain("{nmae}");
    const kept = await json(await fetch(`${base}/v1/templates/${name}`, { headers: auth() }));
    expect(kept.style.text).toBe("财务部印章");

    // Deleted, the name is unknown to the tenant's jobs too (the dev profile has no such seal).
    const deleted = await fetch(`${base}/v1/templates/${name}`, { method: "DELETE", headers: auth() });
    expect(deleted.status).toBe(204);
    expect((await fetch(`${base}/v1/templates/${name}`, { headers: auth() })).status).toBe(404);
    expect((await postPdf(sign, input, DEV_KEY)).status).toBe(422);
  });

  it("answers 401 without a key and 403 for another tenant's objects", async () => {
    const input = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
    expect((await postPdf("/v1/sign", input)).status).toBe(401);
    expect((await postPdf("/v1/sign", input, "wrong-key")).status).toBe(401);
    const foreign = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(OTHER_KEY) },
      body: JSON.stringify({ input: { store: "default", key: "dev/contract.pdf" } }),
    });
    expect(foreign.status).toBe(403);
    expect((await json(foreign)).error.code).toBe("E_FORBIDDEN");
  });

  it("keeps idempotency keys and signer profiles per tenant", async () => {
    const devInput = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
    const otherInput = await readFile(join(SAMPLES_DIR, "hybrid-xref.pdf"));
    const key = `invoice-${randomBytes(4).toString("hex")}`;
    const first = await postPdf(`/v1/sign?idempotencyKey=${key}`, devInput, DEV_KEY);
    expect(first.status).toBe(200);
    // The same key from another tenant is that tenant's own job: it gets its own document signed.
    const second = await postPdf(`/v1/sign?idempotencyKey=${key}`, otherInput, OTHER_KEY);
    expect(second.status).toBe(200);
    const signed = Buffer.from(await second.arrayBuffer());
    expect(signed.subarray(0, otherInput.length).equals(otherInput)).toBe(true);
    expect(second.headers.get("x-esign-job-id")).not.toBe(first.headers.get("x-esign-job-id"));
    // A profile that was not granted to the tenant cannot be named.
    const foreignSigner = await postPdf("/v1/sign?signer=someone-elses-seal", otherInput, OTHER_KEY);
    expect(foreignSigner.status).toBe(403);
    expect((await json(foreignSigner)).error.code).toBe("E_FORBIDDEN");
  });

  it("refuses a body that is not a PDF with 415 E_NOT_PDF", async () => {
    const response = await postPdf("/v1/sign", Buffer.alloc(4096, "not a pdf "), DEV_KEY);
    expect(response.status).toBe(415);
    expect((await json(response)).error.code).toBe("E_NOT_PDF");
  });

  it("answers 413 to an over-limit upload without buffering it (memory stays flat)", async () => {
    const rss = async () => {
      const metrics = await (await fetch(`${base}/metrics`)).text();
      return Number(/^esign_api_process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1]);
    };
    const before = await rss();
    // 200 MiB that a buffering server would have to hold; chunked, so no content-length shortcut.
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    chunk.write("%PDF-1.7\n");
    let sent = 0;
    const body = Readable.from(
      (async function* () {
        while (sent < 200 * 1024 * 1024) {
          sent += chunk.length;
          yield chunk;
        }
      })(),
    );
    const response = await postPdf("/v1/sign", Readable.toWeb(body) as ReadableStream, DEV_KEY).catch(
      (error: Error) => ({ status: -1, error }),
    );
    // The server may answer 413 and close before the client finishes sending: both show the refusal.
    if ("error" in response)
      expect(String(response.error.cause ?? response.error)).toMatch(/reset|closed|EPIPE|socket/i);
    else expect(response.status).toBe(413);
    expect(sent).toBeLessThan(200 * 1024 * 1024);
    const after = await rss();
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("answers 202 with the job URL past the wait, then serves the job and its signed document", async () => {
    const input = await readFile(join(SAMPLES_DIR, "qpdf-linearized.pdf"));
    const accepted = await postPdf("/v1/sign?wait=0", input, DEV_KEY);
    expect(accepted.status).toBe(202);
    const { id, url } = await json(accepted);
    expect(url).toBe(`/v1/jobs/${id}`);
    let job = await json(await fetch(`${base}${url}`, { headers: auth() }));
    for (let i = 0; i < 200 && job.state !== "completed"; i++) {
      await new Promise((done) => setTimeout(done, 100));
      job = await json(await fetch(`${base}${url}`, { headers: auth() }));
    }
    expect(job).toMatchObject({ id, state: "completed", result: { level: "B-B" } });
    const document = await fetch(`${base}${url}/document`, { headers: auth() });
    expect(document.status).toBe(200);
    const signed = Buffer.from(await document.arrayBuffer());
    expect(signed.subarray(0, input.length).equals(input)).toBe(true);
    expect(createHash("sha256").update(signed).digest("hex")).toBe(job.result.sha256);
    // Another tenant cannot see it, not even whether it exists.
    expect((await fetch(`${base}${url}`, { headers: auth(OTHER_KEY) })).status).toBe(404);
  });

  it("refuses to cancel a job that has already been signed (409 with its state)", async () => {
    const input = await readFile(join(SAMPLES_DIR, "qpdf-linearized.pdf"));
    const done = await postPdf("/v1/sign", input, DEV_KEY);
    const finishedId = done.headers.get("x-esign-job-id")!;
    const refused = await fetch(`${base}/v1/jobs/${finishedId}`, { method: "DELETE", headers: auth() });
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ cancelled: false, state: "completed" });
  });

  it("is ready when Redis, storage and the signing service answer", async () => {
    const ready = await json(await fetch(`${base}/readyz`));
    expect(ready.status).toBe("ready");
    expect(Object.keys(ready.checks)).toEqual(expect.arrayContaining(["redis", "store:default"]));
    expect(Object.keys(ready.checks).some((name) => name.startsWith("signer:"))).toBe(true);
  });

  it("keeps Bull Board behind the admin key", async () => {
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${base}/admin/queues`, { headers: auth(OTHER_KEY) })).status).toBe(403);
    const board = await fetch(`${base}/admin/queues`, { headers: auth() });
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<html/i);
  });

  it("reports paid signing per profile at GET /v1/usage, to admin keys only", async () => {
    expect((await fetch(`${base}/v1/usage`)).status).toBe(401);
    expect((await fetch(`${base}/v1/usage`, { headers: auth(OTHER_KEY) })).status).toBe(403);
    const response = await fetch(`${base}/v1/usage`, { headers: auth() });
    expect(response.status).toBe(200);
    const usage = await json(response);
    expect(SigningUsageReportSchema.parse(usage)).toEqual(usage);
    for (const profile of Object.values(SigningUsageReportSchema.parse(usage).profiles)) {
      expect(profile.billedAtLeast).toBeLessThanOrEqual(profile.billedAtMost);
      expect(profile.undeliveredAtMost).toBe(Math.max(0, profile.billedAtMost - profile.delivered));
    }
  });

  it("keeps the simulator's admin routes behind the admin token it prints", async () => {
    expect((await fetch(`${simUrl}/admin/usage`)).status).toBe(401);
    const token = /simulator admin token: (\S+)/.exec(agent.output())?.[1];
    expect(token).toBeDefined();
    const usage = await fetch(`${simUrl}/admin/usage`, { headers: { authorization: `Bearer ${token}` } });
    expect(usage.status).toBe(200);
  });

  it("publishes a valid OpenAPI 3.1 document listing every route", async () => {
    const document = await json(await fetch(`${base}/openapi.json`));
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
    for (const route of [
      "/v1/sign",
      "/v1/jobs",
      "/v1/jobs/{id}",
      "/v1/jobs/{id}/document",
      "/v1/jobs/{id}/deliveries",
      "/v1/templates",
      "/v1/templates/{name}",
      "/v1/usage",
    ]) {
      expect(Object.keys(document.paths)).toContain(route);
    }
  });
});

describe("webhooks from the gateway", () => {
  let receiver: Server;
  let receiverUrl: string;
  const deliveries: { headers: IncomingMessage["headers"]; body: string; status: number }[] = [];
  let failuresLeft = 2;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        const status = failuresLeft-- > 0 ? 500 : 200;
        deliveries.push({ headers: request.headers, body, status });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });

  afterAll(() => new Promise((done) => receiver.close(done)));

  async function jobWithCallback(callbackUrl: string): Promise<string> {
    const input = await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf"));
    const response = await postPdf(`/v1/sign?callbackUrl=${encodeURIComponent(callbackUrl)}`, input, DEV_KEY);
    expect(response.status).toBe(200);
    return response.headers.get("x-esign-job-id")!;
  }

  it("retries a failing receiver with the same webhook-id, every delivery verifiable, and logs each attempt", async () => {
    const jobId = await jobWithCallback(receiverUrl);
    for (let i = 0; i < 300 && deliveries.length < 3; i++) await new Promise((done) => setTimeout(done, 100));
    expect(deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    const ids = new Set(deliveries.map((d) => d.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    const webhook = new Webhook(WEBHOOK_SECRET);
    for (const delivery of deliveries) {
      const payload = webhook.verify(delivery.body, delivery.headers as Record<string, string>) as {
        type: string;
        data: { jobId: string };
      };
      expect(payload.type).toBe("job.completed");
      expect(payload.data.jobId).toBe(jobId);
    }
    const log = await json(await fetch(`${base}/v1/jobs/${jobId}/deliveries`, { headers: auth() }));
    expect(log.deliveries).toHaveLength(3);
    expect(log.deliveries.map((d: { deliveryId: string }) => d.deliveryId)).toEqual(
      Array(3).fill([...ids][0]),
    );
    expect(log.deliveries.map((d: { statusCode: number }) => d.statusCode)).toEqual([500, 500, 200]);
  });

  it("refuses a callback to the cloud metadata address", async () => {
    const before = deliveries.length;
    const jobId = await jobWithCallback("http://169.254.169.254/latest/meta-data/");
    let log: { deliveries: { outcome: string; error?: { code: string } }[] } = { deliveries: [] };
    for (let i = 0; i < 100 && log.deliveries.length === 0; i++) {
      await new Promise((done) => setTimeout(done, 100));
      log = await json(await fetch(`${base}/v1/jobs/${jobId}/deliveries`, { headers: auth() }));
    }
    expect(log.deliveries.length).toBeGreaterThan(0);
    expect(log.deliveries[0]).toMatchObject({ outcome: "failed", error: { code: "E_FORBIDDEN" } });
    expect(deliveries.length).toBe(before);
  });
});
