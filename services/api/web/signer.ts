/**
 * The signer's page at `/s/<token>`: shows the contract's PDF (PDF.js, from this origin), asks for
 * consent and the proof the signer's method needs, then signs or declines through the signer API
 * (`/v1/signing/<token>...`, authorised by the token alone) and offers the signed PDF.
 */
import { GlobalWorkerOptions, getDocument } from "pdfjs-dist";
import {
  ApiError,
  callApi,
  chosenLanguage,
  currentLanguage,
  errorMessage,
  h,
  languageSwitcher,
  type Translate,
  translator,
} from "./common";
import type { Language } from "./i18n";

const ASSETS = "/assets/";
GlobalWorkerOptions.workerSrc = `${ASSETS}pdf.worker.min.mjs`;

/** How often the page asks whether a signature still being applied is done. */
const SIGNING_POLL_MS = 1500;
/** Pages rendered at most; a longer document is read from the download. */
const MAX_RENDERED_PAGES = 30;

type AuthMethod = "email-otp" | "sms-otp" | "esign-api" | "access-code";

/** What `GET /v1/signing/<token>` (and the sign and decline answers) tell the signer. */
interface SigningInfo {
  contractId: string;
  title: string;
  /** The contract's state: in_progress while it can be signed. */
  status: string;
  /** waiting (earlier signers first), pending, signing, signed, declined, locked. */
  signer: { id: string; name: string; email: string; status: string; order: number };
  auth: { method: AuthMethod };
  yourTurn: boolean;
  attemptsLeft: number;
  /** Who asks for the signature; given by `GET /v1/signing/<token>`. */
  sender?: string;
  /** The language the contract names: the page starts in it unless the reader chose another. */
  language?: Language;
  /** Where the signature goes: [x1, y1, x2, y2] in PDF points, origin bottom-left of the visible page. */
  placement: { page: "last"; rect: [number, number, number, number] };
}

const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const api = `/v1/signing/${encodeURIComponent(token)}`;
const app = document.getElementById("app")!;
/** The PDF's bytes, kept for re-rendering after a language switch (the document does not change). */
let pdfBytes: Uint8Array | undefined;

async function main(): Promise<void> {
  let t = translator(currentLanguage());
  document.title = t("signer.title");
  app.replaceChildren(h("p", { role: "status" }, t("signer.loading")));
  let info: SigningInfo;
  try {
    info = await callApi<SigningInfo>(api);
  } catch (error) {
    // Whatever the reason the signer API refuses the token (unknown, malformed), for the person
    // holding the link it is one thing: the link does not work.
    const invalidLink = error instanceof ApiError && [400, 401, 403, 404].includes(error.status);
    renderFailure(t, invalidLink ? new ApiError(404, "E_NOT_FOUND", error.message) : error);
    return;
  }
  if (info.language && !chosenLanguage()) t = translator(info.language);
  document.title = `${info.title} · ${t("signer.title")}`;
  if (info.signer.status === "signed") return renderDone(t, info);
  if (info.signer.status === "declined") return renderDeclined(t, info);
  if (info.signer.status === "locked")
    return renderFailure(t, new ApiError(423, "E_LOCKED", "locked"), info.title);
  renderSigning(t, info);
}

/** The page's header: the contract's title, who asks for the signature, the language switcher. */
function header(t: Translate, title: string, sender?: string): HTMLElement {
  return h(
    "header",
    {},
    h("h1", {}, title),
    sender && h("p", { id: "sender" }, t("signer.requestedBy", { sender })),
    languageSwitcher(t, currentLanguage(), () => void main()),
  );
}

function renderFailure(t: Translate, error: unknown, title = t("signer.title")): void {
  app.replaceChildren(
    header(t, title),
    h("main", {}, h("p", { class: "error", role: "alert", id: "message" }, errorMessage(t, error))),
  );
}

function renderSigning(t: Translate, info: SigningInfo): void {
  const method = info.auth.method;
  const pages = h("div", { class: "pages", id: "pages" });
  const message = h("p", { class: "message", id: "message", role: "alert", "aria-live": "assertive" });
  const status = h("p", { class: "status", id: "status", role: "status", "aria-live": "polite" });
  const consent = h("input", { type: "checkbox", id: "consent", name: "consent" });

  const needsChallenge = method !== "access-code";
  const requestCode = h(
    "button",
    { type: "button", id: "request-code", class: "secondary" },
    t("signer.requestCode"),
  );
  const otp = h("input", {
    id: "otp",
    name: "otp",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: "12",
    required: true,
  });
  const pin = h("input", { id: "pin", name: "pin", type: "password", autocomplete: "off", required: true });
  const code = h("input", { id: "access-code", name: "code", autocomplete: "off", required: true });
  const fields: HTMLElement[] =
    method === "access-code"
      ? [field(t("signer.accessCode"), code)]
      : method === "esign-api"
        ? [field(t("signer.pin"), pin), field(t("signer.otp"), otp)]
        : [field(t("signer.otp"), otp)];

  const pad = signaturePad(t, info.signer.name);
  const signButton = h("button", { type: "submit", id: "sign" }, t("signer.sign"));
  const form = h(
    "form",
    { id: "sign-form", novalidate: true },
    h("h2", {}, t("signer.signHeading")),
    h("p", {}, t("signer.youSignAs", { name: info.signer.name, email: info.signer.email })),
    h("div", { class: "check" }, consent, h("label", { for: "consent" }, t("signer.consent"))),
    h(
      "fieldset",
      {},
      h("legend", {}, t("signer.authHeading")),
      h("p", { class: "hint" }, t(`signer.auth.${method}`)),
      needsChallenge && requestCode,
      ...fields,
    ),
    pad.element,
    signButton,
    status,
    message,
  );
  if (!info.yourTurn) {
    // Earlier signers first: the document can be read (and declined), not yet signed.
    message.textContent = t("error.E_NOT_YOUR_TURN");
    signButton.disabled = true;
    requestCode.disabled = true;
  }

  requestCode.addEventListener("click", async () => {
    message.textContent = "";
    requestCode.disabled = true;
    try {
      await callApi(`${api}/challenge`, { method: "POST", body: {} });
      status.textContent = t("signer.codeSent");
      requestCode.textContent = t("signer.requestCodeAgain");
      (method === "esign-api" ? pin : otp).focus();
    } catch (error) {
      showError(t, message, error, info);
    } finally {
      requestCode.disabled = !info.yourTurn;
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (!consent.checked) {
      message.textContent = t("signer.consentRequired");
      consent.focus();
      return;
    }
    const required = method === "access-code" ? [code] : method === "esign-api" ? [pin, otp] : [otp];
    const empty = required.find((input) => input.value.trim() === "");
    if (empty) {
      message.textContent = t("signer.codeRequired");
      empty.focus();
      return;
    }
    const body =
      method === "access-code"
        ? { consent: true, code: code.value.trim() }
        : method === "esign-api"
          ? { consent: true, pin: pin.value, otp: otp.value.trim() }
          : { consent: true, otp: otp.value.trim() };
    const signatureImage = pad.image();
    signButton.disabled = true;
    signButton.textContent = t("signer.signing");
    try {
      const answer = await callApi<SigningInfo>(`${api}/sign`, {
        method: "POST",
        body: signatureImage ? { ...body, signatureImage } : body,
      });
      if (answer.signer.status === "signing") await signatureApplied();
      renderDone(t, info);
    } catch (error) {
      signButton.disabled = false;
      signButton.textContent = t("signer.sign");
      otp.value = "";
      pin.value = "";
      showError(t, message, error, info);
    }
  });

  app.replaceChildren(
    header(t, info.title, info.sender),
    h(
      "main",
      {},
      h(
        "section",
        { "aria-labelledby": "document-heading", class: "document" },
        h("h2", { id: "document-heading" }, t("signer.documentHeading")),
        pages,
        h(
          "p",
          {},
          h("a", { href: `${api}/document`, download: fileName(info.title) }, t("signer.downloadOriginal")),
        ),
      ),
      h("section", { class: "panel" }, form, declineForm(t, info)),
    ),
  );
  void renderPdf(t, pages, info.placement);
}

/**
 * Shows the API's refusal. A wrong code says how many tries are left; a lock or a closed contract
 * ends the page, as nothing more can be done with this link.
 */
function showError(t: Translate, message: HTMLElement, error: unknown, info: SigningInfo): void {
  message.textContent = errorMessage(t, error);
  if (!(error instanceof ApiError)) return;
  if (error.code === "E_LOCKED" || error.code === "E_CONTRACT_CLOSED") {
    renderFailure(t, error, info.title);
  } else if (error.code === "E_AUTH_FAILED") {
    void callApi<SigningInfo>(api).then(
      (current) => {
        message.textContent = `${errorMessage(t, error)} ${t("signer.attemptsLeft", { count: current.attemptsLeft })}`;
      },
      () => undefined,
    );
  }
}

/**
 * Waits while the server is still applying the signature (it answered 202, `signing`) until the
 * link's view says signed, or the contract closed (the last signature completes it); a signature
 * that was not applied is thrown.
 */
async function signatureApplied(): Promise<void> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, SIGNING_POLL_MS));
    try {
      const current = await callApi<SigningInfo>(api);
      if (current.signer.status === "signed") return;
      if (current.signer.status !== "signing") {
        throw new ApiError(500, "E_INTERNAL", `the signature was not applied (${current.signer.status})`);
      }
    } catch (error) {
      if (error instanceof ApiError && error.code === "E_CONTRACT_CLOSED") return;
      throw error;
    }
  }
}

function declineForm(t: Translate, info: SigningInfo): HTMLElement {
  const reason = h("textarea", { id: "decline-reason", name: "reason", rows: "3", maxlength: "1000" });
  const message = h("p", { class: "message", id: "decline-message", role: "alert" });
  const form = h(
    "form",
    { id: "decline-form", novalidate: true },
    field(t("signer.declineReason"), reason),
    h("button", { type: "submit", id: "decline", class: "danger" }, t("signer.decline")),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (reason.value.trim() === "") {
      message.textContent = t("signer.declineReasonRequired");
      reason.focus();
      return;
    }
    try {
      await callApi(`${api}/decline`, { method: "POST", body: { reason: reason.value.trim() } });
      renderDeclined(t, info);
    } catch (error) {
      message.textContent = errorMessage(t, error);
    }
  });
  return h("details", { class: "decline" }, h("summary", {}, t("signer.declineHeading")), form);
}

/**
 * The final page. The download is the link's document: as it stands while the contract is open,
 * the signed and sealed one once it is completed.
 */
function renderDone(t: Translate, info: SigningInfo): void {
  app.replaceChildren(
    header(t, info.title),
    h(
      "main",
      {},
      h(
        "section",
        { class: "done", id: "done" },
        h("h2", { tabindex: "-1" }, t("signer.doneHeading")),
        h("p", {}, t("signer.doneText")),
        h(
          "a",
          { class: "button", id: "download", href: `${api}/document`, download: fileName(info.title) },
          t("signer.downloadSigned"),
        ),
      ),
    ),
  );
  app.querySelector<HTMLElement>("#done h2")?.focus();
}

function renderDeclined(t: Translate, info: SigningInfo): void {
  app.replaceChildren(
    header(t, info.title),
    h(
      "main",
      {},
      h(
        "section",
        { class: "done", id: "declined" },
        h("h2", {}, t("signer.declinedHeading")),
        h("p", {}, t("signer.declinedText")),
      ),
    ),
  );
}

/** Pixels of the signature pad: the signature box's shape (170 × 70 points), sharp when printed. */
const PAD_WIDTH = 680;
const PAD_HEIGHT = 280;
/** A handwriting face where the system has one; the generic cursive family otherwise. */
const TYPED_FONT = `italic 96px "URW Chancery L", "Z003", "Apple Chancery", "Segoe Script", cursive`;

/**
 * The optional handwritten signature: a canvas drawn on with pointer events (mouse, pen, finger),
 * or, from the keyboard, the signer's name typed and set in a cursive face on the same canvas.
 * `image()` answers the PNG data URL, or undefined while the pad is empty.
 */
function signaturePad(t: Translate, name: string): { element: HTMLElement; image(): string | undefined } {
  const canvas = h("canvas", {
    id: "signature-pad",
    class: "signature-pad",
    width: String(PAD_WIDTH),
    height: String(PAD_HEIGHT),
    role: "img",
    "aria-label": t("signer.signaturePad"),
  });
  const typed = h("input", { id: "typed-signature", name: "typedSignature", autocomplete: "name" });
  typed.placeholder = name;
  const clear = h(
    "button",
    { type: "button", id: "clear-signature", class: "secondary" },
    t("signer.signatureClear"),
  );
  const context = canvas.getContext("2d")!;
  let inked = false;

  const wipe = () => {
    context.clearRect(0, 0, PAD_WIDTH, PAD_HEIGHT);
    inked = false;
  };
  const point = (event: PointerEvent): [number, number] => {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * PAD_WIDTH,
      ((event.clientY - box.top) / box.height) * PAD_HEIGHT,
    ];
  };
  canvas.addEventListener("pointerdown", (event) => {
    // Drawing replaces a typed name.
    if (typed.value !== "") {
      typed.value = "";
      wipe();
    }
    canvas.setPointerCapture(event.pointerId);
    context.lineWidth = 6;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#0b1f4d";
    context.beginPath();
    context.moveTo(...point(event));
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!canvas.hasPointerCapture(event.pointerId)) return;
    context.lineTo(...point(event));
    context.stroke();
    inked = true;
  });
  canvas.addEventListener("pointerup", (event) => canvas.releasePointerCapture(event.pointerId));
  typed.addEventListener("input", () => {
    wipe();
    const text = typed.value.trim();
    if (text === "") return;
    context.fillStyle = "#0b1f4d";
    context.font = TYPED_FONT;
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillText(text, PAD_WIDTH / 2, PAD_HEIGHT / 2, PAD_WIDTH - 40);
    inked = true;
  });
  clear.addEventListener("click", () => {
    typed.value = "";
    wipe();
  });

  const element = h(
    "fieldset",
    { id: "signature" },
    h("legend", {}, t("signer.signatureHeading")),
    h("p", { class: "hint" }, t("signer.signatureHint")),
    canvas,
    clear,
    field(t("signer.signatureTyped"), typed),
  );
  return { element, image: () => (inked ? canvas.toDataURL("image/png") : undefined) };
}

/** A label and its input, tied by id. */
function field(label: string, input: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

function fileName(title: string): string {
  return `${title.replace(/[^\p{L}\p{N} ._-]+/gu, "_").slice(0, 80) || "document"}.pdf`;
}

/**
 * Every page (up to MAX_RENDERED_PAGES) as a canvas as wide as the column, sharp on dense screens;
 * the page that will carry the signature shows its box, and is scrolled to.
 */
async function renderPdf(
  t: Translate,
  container: HTMLElement,
  placement: SigningInfo["placement"],
): Promise<void> {
  try {
    if (!pdfBytes) {
      const response = await fetch(`${api}/document`, { credentials: "omit", cache: "no-store" });
      if (!response.ok) throw new ApiError(response.status, `HTTP_${response.status}`, response.statusText);
      pdfBytes = new Uint8Array(await response.arrayBuffer());
    }
    const pdf = await getDocument({
      // PDF.js transfers the buffer to its worker: hand it a copy, keep ours for re-renders.
      data: pdfBytes.slice(),
      cMapUrl: `${ASSETS}cmaps/`,
      standardFontDataUrl: `${ASSETS}standard_fonts/`,
      wasmUrl: `${ASSETS}wasm/`,
      iccUrl: `${ASSETS}iccs/`,
      isEvalSupported: false,
    }).promise;
    const count = Math.min(pdf.numPages, MAX_RENDERED_PAGES);
    const signaturePage = placement.page === "last" ? pdf.numPages : placement.page;
    for (let number = 1; number <= count; number++) {
      const page = await pdf.getPage(number);
      const cssWidth = Math.min(container.clientWidth || 800, 900);
      const unscaled = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({
        scale: (cssWidth / unscaled.width) * (window.devicePixelRatio || 1),
      });
      const canvas = h("canvas", {
        width: String(Math.floor(viewport.width)),
        height: String(Math.floor(viewport.height)),
        role: "img",
        "aria-label": t("signer.pageLabel", { page: number, pages: pdf.numPages }),
      });
      const frame = h("div", { class: "page", "data-page": String(number) }, canvas);
      container.append(frame);
      await page.render({ canvas, viewport }).promise;
      if (number === signaturePage) {
        const box = signatureBox(t, placement.rect, unscaled.width, unscaled.height);
        frame.append(box);
        box.scrollIntoView({ block: "center" });
      }
    }
    container.dataset.rendered = String(count);
  } catch {
    container.append(h("p", { class: "error" }, t("signer.renderFailed")));
    container.dataset.rendered = "0";
  }
}

/**
 * The box where the signature goes, in percent of the page so it follows the canvas's size. The
 * rectangle is in the page as the reader sees it (after crop and rotation, origin bottom-left), the
 * space of PDF.js's scale-1 viewport, whose y axis points down.
 */
function signatureBox(
  t: Translate,
  [x1, y1, x2, y2]: [number, number, number, number],
  width: number,
  height: number,
): HTMLElement {
  const box = h("div", { class: "signature-box", id: "signature-box" }, t("signer.signatureHere"));
  // CSSOM, not a style attribute: the page's CSP forbids inline styles, not scripted ones.
  box.style.left = `${(x1 / width) * 100}%`;
  box.style.top = `${((height - y2) / height) * 100}%`;
  box.style.width = `${((x2 - x1) / width) * 100}%`;
  box.style.height = `${((y2 - y1) / height) * 100}%`;
  return box;
}

void main();
