/**
 * The operator console at `/console`: an API key (kept in this tab's sessionStorage, sent as a
 * Bearer token to this origin only) shows what the key may see: the tenant's contracts, batches
 * and failed jobs, or every tenant's with an admin key. Read-only but for voiding a contract and
 * retrying a failed job; everything goes through the public API.
 */
import {
  ApiError,
  callApi,
  currentLanguage,
  errorMessage,
  h,
  languageSwitcher,
  type Translate,
  translator,
} from "./common";

const KEY_STORAGE = "esign.console.apiKey";
const CONTRACT_STATES = ["draft", "in_progress", "completed", "declined", "voided", "expired"] as const;
type Section = "contracts" | "batches" | "jobs";

interface Caller {
  tenant: string;
  admin: boolean;
  keyName: string;
}
/** As `GET /v1/contracts/:id` gives them. */
interface ContractSigner {
  id: string;
  name: string;
  email: string;
  order: number;
  method: string;
  status: string;
  signedAt?: string;
  certificateSubject?: string;
  declineReason?: string;
}
interface Contract {
  id: string;
  tenant: string;
  title: string;
  status: string;
  createdAt: string;
  signers: ContractSigner[];
}
/** One entry of a contract's hash-chained audit trail (`GET /v1/contracts/:id/audit`). */
interface AuditEntry {
  seq: number;
  at: string;
  type: string;
  signerId?: string;
  ip?: string;
  details?: Record<string, unknown>;
}
interface AuditTrail {
  entries: AuditEntry[];
  verification?: { valid: boolean; entries: number; reason?: string };
}
interface Batch {
  id: string;
  state: string;
  createdAt: string;
  counts: { total: number; pending: number; completed: number; failed: number; cancelled: number };
  throughput: number;
}
interface FailedJob {
  id: string;
  queue: string;
  tenant?: string;
  attempts: number;
  failedAt: string;
  input: { store: string; key: string };
  error?: { code: string; message: string };
}
interface Delivery {
  eventType: string;
  url: string;
  attempt: number;
  at: string;
  outcome: string;
  statusCode?: number;
  error?: { code: string; message: string };
}

const app = document.getElementById("app")!;
let section: Section = "contracts";
let contractFilter = "";

const apiKey = () => sessionStorage.getItem(KEY_STORAGE) ?? "";
const get = <T>(path: string) => callApi<T>(path, { apiKey: apiKey() });
const post = <T>(path: string, body: unknown = {}) =>
  callApi<T>(path, { method: "POST", body, apiKey: apiKey() });

async function main(): Promise<void> {
  const t = translator(currentLanguage());
  document.title = t("console.title");
  if (!apiKey()) return renderLogin(t);
  try {
    renderConsole(t, await get<Caller>("/v1/whoami"));
  } catch (error) {
    sessionStorage.removeItem(KEY_STORAGE);
    renderLogin(t, errorMessage(t, error));
  }
}

function top(t: Translate, ...extra: (Node | false)[]): HTMLElement {
  return h(
    "header",
    {},
    h("h1", {}, t("console.title")),
    ...extra,
    languageSwitcher(t, currentLanguage(), () => void main()),
  );
}

function renderLogin(t: Translate, problem?: string): void {
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "login", id: "login" },
    h("h2", {}, t("console.loginHeading")),
    h(
      "div",
      { class: "field" },
      h("label", { for: "api-key" }, t("console.apiKey")),
      key,
      h("p", { class: "hint", id: "api-key-hint" }, t("console.apiKeyHint")),
    ),
    h("button", { type: "submit" }, t("console.login")),
    h("p", { class: "message", id: "message", role: "alert" }, problem ?? ""),
  );
  key.setAttribute("aria-describedby", "api-key-hint");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, key.value.trim());
    void main();
  });
  app.replaceChildren(top(t), h("main", {}, h("section", {}, form)));
  key.focus();
}

function renderConsole(t: Translate, caller: Caller): void {
  const content = h("div", { id: "content" });
  const nav = h(
    "nav",
    { "aria-label": t("console.nav") },
    ...(["contracts", "batches", "jobs"] as const).map((each) => {
      const button = h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: `nav-${each}`,
          "aria-current": each === section ? "page" : false,
        },
        t(each === "jobs" ? "console.failedJobs" : `console.${each}`),
      );
      button.addEventListener("click", () => {
        section = each;
        renderConsole(t, caller);
      });
      return button;
    }),
  );
  const logout = h("button", { type: "button", class: "secondary", id: "logout" }, t("console.logout"));
  logout.addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    void main();
  });
  const scope = caller.admin
    ? t("console.scopeAdmin", { key: caller.keyName })
    : t("console.scope", { tenant: caller.tenant, key: caller.keyName });
  app.replaceChildren(
    top(t, h("p", { id: "scope" }, scope), logout),
    h("main", {}, h("section", { "aria-live": "polite" }, nav, content)),
  );
  void showSection(t, caller, content);
}

/** Renders the current section into `content`; `flash` is what the last action did. */
async function showSection(t: Translate, caller: Caller, content: HTMLElement, flash = ""): Promise<void> {
  const reload = (done?: string) => void showSection(t, caller, content, done);
  const refresh = h(
    "button",
    { type: "button", class: "secondary small", id: "refresh" },
    t("console.refresh"),
  );
  refresh.addEventListener("click", () => reload());
  const notice = h("p", { class: "status", id: "notice", role: "status" }, flash);
  const toolbar = h("div", { class: "toolbar" }, refresh, notice);
  const heading = h(
    "h2",
    { id: "section-heading" },
    t(section === "jobs" ? "console.failedJobs" : `console.${section}`),
  );
  try {
    const body =
      section === "contracts"
        ? await contractsView(t, caller, toolbar, notice, reload)
        : section === "batches"
          ? await batchesView(t)
          : await failedJobsView(t, notice, reload);
    content.replaceChildren(heading, toolbar, body);
  } catch (error) {
    content.replaceChildren(heading, toolbar, unavailable(t, error));
  }
}

function unavailable(t: Translate, error: unknown): HTMLElement {
  const text =
    error instanceof ApiError && (error.status === 404 || error.status === 501)
      ? t("console.unavailable", { code: error.code })
      : errorMessage(t, error);
  return h("p", { class: "error", role: "alert" }, text);
}

/** A table with a header row, or the "nothing to show" line. */
function table(t: Translate, headings: string[], rows: HTMLTableRowElement[], label: string): HTMLElement {
  if (rows.length === 0) return h("p", {}, t("console.empty"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": label },
      h("thead", {}, h("tr", {}, ...headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, ...rows),
    ),
  );
}

const cells = (...values: (Node | string)[]) => h("tr", {}, ...values.map((value) => h("td", {}, value)));
const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString(currentLanguage()) : "");

async function contractsView(
  t: Translate,
  caller: Caller,
  toolbar: HTMLElement,
  notice: HTMLElement,
  reload: (done?: string) => void,
): Promise<HTMLElement> {
  const filter = h(
    "select",
    { id: "status-filter" },
    h("option", { value: "" }, t("console.all")),
    ...CONTRACT_STATES.map((state) =>
      h("option", { value: state, selected: state === contractFilter }, state),
    ),
  );
  filter.addEventListener("change", () => {
    contractFilter = filter.value;
    reload();
  });
  toolbar.prepend(h("label", { for: "status-filter" }, t("console.statusFilter")), filter);
  const query = contractFilter ? `?status=${encodeURIComponent(contractFilter)}` : "";
  const { items: contracts } = await get<{ items: Contract[] }>(`/v1/contracts${query}`);
  const headings = [
    t("console.col.title"),
    ...(caller.admin ? [t("console.col.tenant")] : []),
    t("console.col.status"),
    t("console.col.signers"),
    t("console.col.created"),
    t("console.col.actions"),
  ];
  const rows: HTMLTableRowElement[] = [];
  for (const contract of contracts) {
    const detailsRow = h("tr", { hidden: true }, h("td", { colspan: String(headings.length) }));
    const toggle = h(
      "button",
      { type: "button", class: "secondary small", "aria-expanded": "false" },
      t("console.details"),
    );
    toggle.addEventListener("click", async () => {
      const open = detailsRow.hidden;
      detailsRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = t(open ? "console.hide" : "console.details");
      if (open)
        detailsRow.firstElementChild!.replaceChildren(await contractDetails(t, contract, notice, reload));
    });
    const signed = contract.signers.filter((signer) => signer.status === "signed").length;
    rows.push(
      cells(
        h("span", {}, contract.title, h("br"), h("code", {}, contract.id)),
        // An admin key lists every tenant's contracts: which one each belongs to.
        ...(caller.admin ? [contract.tenant] : []),
        contract.status,
        `${signed} / ${contract.signers.length}`,
        when(contract.createdAt),
        toggle,
      ),
      detailsRow,
    );
  }
  return table(t, headings, rows, t("console.contracts"));
}

async function contractDetails(
  t: Translate,
  contract: Contract,
  notice: HTMLElement,
  reload: (done?: string) => void,
): Promise<HTMLElement> {
  const id = encodeURIComponent(contract.id);
  const parts: HTMLElement[] = [];
  try {
    const current = await get<Contract>(`/v1/contracts/${id}`);
    parts.push(
      table(
        t,
        [
          t("console.col.signers"),
          t("console.col.method"),
          t("console.col.status"),
          t("console.col.details"),
        ],
        current.signers.map((signer) =>
          cells(
            `${signer.order}. ${signer.name} <${signer.email}>`,
            signer.method,
            signer.status,
            [when(signer.signedAt), signer.certificateSubject, signer.declineReason]
              .filter(Boolean)
              .join(" · "),
          ),
        ),
        t("console.col.signers"),
      ),
    );
    const audit = await get<AuditTrail>(`/v1/contracts/${id}/audit?verify=1`);
    const verified = audit.verification?.valid === true;
    parts.push(
      h("h3", {}, t("console.audit")),
      h(
        "p",
        { class: verified ? "status" : "error" },
        verified
          ? t("console.auditValid", { entries: audit.verification!.entries })
          : t("console.auditBroken", { reason: audit.verification?.reason ?? "" }),
      ),
      table(
        t,
        ["#", t("console.col.time"), t("console.col.event"), t("console.col.details")],
        audit.entries.map(({ seq, at, type, signerId, ip, details }) =>
          cells(
            String(seq),
            when(at),
            signerId ? `${type} (${signerId})` : type,
            h("code", {}, JSON.stringify({ ...(ip && { ip }), ...details })),
          ),
        ),
        t("console.audit"),
      ),
    );
    const { deliveries } = await get<{ deliveries: Delivery[] }>(`/v1/contracts/${id}/deliveries`);
    parts.push(h("h3", {}, t("console.deliveries")), deliveriesTable(t, deliveries));
    if (current.status === "in_progress" || current.status === "draft")
      parts.push(voidForm(t, contract, notice, reload));
  } catch (error) {
    parts.push(unavailable(t, error));
  }
  return h("div", {}, ...parts);
}

function voidForm(
  t: Translate,
  contract: Contract,
  notice: HTMLElement,
  reload: (done?: string) => void,
): HTMLElement {
  const reasonId = `void-reason-${contract.id}`;
  const reason = h("input", { id: reasonId, required: true });
  const form = h(
    "form",
    { class: "toolbar" },
    h("label", { for: reasonId }, t("console.voidReason")),
    reason,
    h("button", { type: "submit", class: "danger small" }, t("console.void")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await post(`/v1/contracts/${encodeURIComponent(contract.id)}/void`, { reason: reason.value.trim() });
      reload(t("console.voided", { id: contract.id }));
    } catch (error) {
      notice.textContent = errorMessage(t, error);
    }
  });
  return form;
}

async function batchesView(t: Translate): Promise<HTMLElement> {
  const { batches } = await get<{ batches: Batch[] }>("/v1/batches");
  return table(
    t,
    [
      t("console.col.id"),
      t("console.col.status"),
      t("console.col.progress"),
      t("console.col.throughput"),
      t("console.col.created"),
    ],
    batches.map((batch) => {
      const { total, completed, failed, cancelled } = batch.counts;
      const done = completed + failed + cancelled;
      const label = t("console.progress", { done, total, failed });
      return cells(
        h("code", {}, batch.id),
        batch.state,
        h(
          "span",
          {},
          h("progress", { max: String(Math.max(total, 1)), value: String(done), "aria-label": label }),
          " ",
          label,
        ),
        batch.throughput.toFixed(2),
        when(batch.createdAt),
      );
    }),
    t("console.batches"),
  );
}

/** Webhook delivery attempts, of a job or of a contract's events. */
function deliveriesTable(t: Translate, attempts: Delivery[]): HTMLElement {
  return table(
    t,
    [t("console.col.time"), t("console.col.event"), t("console.col.url"), t("console.col.outcome")],
    attempts.map((attempt) =>
      cells(
        when(attempt.at),
        `${attempt.eventType} #${attempt.attempt}`,
        attempt.url,
        [attempt.outcome, attempt.statusCode, attempt.error?.code].filter(Boolean).join(" "),
      ),
    ),
    t("console.deliveries"),
  );
}

async function failedJobsView(
  t: Translate,
  notice: HTMLElement,
  reload: (done?: string) => void,
): Promise<HTMLElement> {
  const { jobs } = await get<{ jobs: FailedJob[] }>("/v1/jobs?state=failed");
  const rows: HTMLTableRowElement[] = [];
  for (const job of jobs) {
    const id = encodeURIComponent(job.id);
    const deliveriesRow = h("tr", { hidden: true }, h("td", { colspan: "5" }));
    const retry = h("button", { type: "button", class: "small" }, t("console.retry"));
    retry.addEventListener("click", async () => {
      try {
        await post(`/v1/jobs/${id}/retry`);
        reload(t("console.retried", { id: job.id }));
      } catch (error) {
        notice.textContent = errorMessage(t, error);
      }
    });
    const deliveries = h(
      "button",
      { type: "button", class: "secondary small", "aria-expanded": "false" },
      t("console.deliveries"),
    );
    deliveries.addEventListener("click", async () => {
      const open = deliveriesRow.hidden;
      deliveriesRow.hidden = !open;
      deliveries.setAttribute("aria-expanded", String(open));
      if (!open) return;
      try {
        const { deliveries: attempts } = await get<{ deliveries: Delivery[] }>(`/v1/jobs/${id}/deliveries`);
        deliveriesRow.firstElementChild!.replaceChildren(deliveriesTable(t, attempts));
      } catch (error) {
        deliveriesRow.firstElementChild!.replaceChildren(unavailable(t, error));
      }
    });
    rows.push(
      cells(
        h("span", {}, h("code", {}, job.id), h("br"), `${job.input.store}:${job.input.key}`),
        h("span", {}, h("strong", {}, job.error?.code ?? ""), h("br"), job.error?.message ?? ""),
        String(job.attempts),
        when(job.failedAt),
        h("span", { class: "toolbar" }, retry, deliveries),
      ),
      deliveriesRow,
    );
  }
  return table(
    t,
    [
      t("console.col.id"),
      t("console.col.error"),
      t("console.col.attempts"),
      t("console.col.failedAt"),
      t("console.col.actions"),
    ],
    rows,
    t("console.failedJobs"),
  );
}

void main();
