export type Notice =
  | {
      kind: "invitation";
      contractTitle: string;
      signerName: string;
      senderName: string;
      url: string;
      expiresAt?: string;
    }
  | { kind: "otp"; contractTitle: string; signerName: string; code: string; minutes: number }
  | {
      kind: "reminder";
      contractTitle: string;
      signerName: string;
      senderName: string;
      url: string;
      expiresAt?: string;
    }
  | { kind: "completed"; contractTitle: string; recipientName: string; url: string }
  | { kind: "signer-locked"; contractTitle: string; signerName: string }
  | { kind: "declined"; contractTitle: string; signerName: string; reason: string }
  | { kind: "voided" | "expired"; contractTitle: string; recipientName: string };

export type NoticeLanguage = "en" | "zh-CN";

export interface RenderedNotice {
  subject: string;
  text: string;
  html: string;
}

/** What a template makes of a notice: paragraphs, and the one link the reader should follow. */
interface Body {
  subject: string;
  paragraphs: string[];
  link?: { label: string; url: string };
}

/** The notice type of one kind ("voided" and "expired" share theirs, so `Extract` will not do). */
type NoticeOf<K extends Notice["kind"], N = Notice> = N extends { kind: infer NK }
  ? K extends NK
    ? N
    : never
  : never;
type Template<K extends Notice["kind"]> = (notice: NoticeOf<K>) => Body;
type Catalogue = { [K in Notice["kind"]]: Template<K> };

/**
 * Every string of every notice, in both languages. Templates interpolate the notice's values as
 * given: `renderNotice` hands them plain values for the subject and text, escaped ones for the HTML.
 */
const CATALOGUE: Record<NoticeLanguage, Catalogue> = {
  en: {
    invitation: (n) => ({
      subject: `Please sign: ${n.contractTitle}`,
      paragraphs: [
        `Hello ${n.signerName},`,
        `${n.senderName} asks you to sign "${n.contractTitle}".`,
        ...(n.expiresAt ? [`Please sign before ${n.expiresAt}.`] : []),
      ],
      link: { label: "Review and sign", url: n.url },
    }),
    otp: (n) => ({
      subject: `Your signing code for ${n.contractTitle}`,
      paragraphs: [
        `Hello ${n.signerName},`,
        `Your one-time code to sign "${n.contractTitle}" is ${n.code}.`,
        `It is valid for ${n.minutes} minutes. Do not share it with anyone.`,
      ],
    }),
    reminder: (n) => ({
      subject: `Reminder: please sign ${n.contractTitle}`,
      paragraphs: [
        `Hello ${n.signerName},`,
        `${n.senderName} is still waiting for your signature on "${n.contractTitle}".`,
        ...(n.expiresAt ? [`Please sign before ${n.expiresAt}.`] : []),
      ],
      link: { label: "Review and sign", url: n.url },
    }),
    completed: (n) => ({
      subject: `Completed: ${n.contractTitle}`,
      paragraphs: [`Hello ${n.recipientName},`, `Every party has signed "${n.contractTitle}".`],
      link: { label: "Download the signed document", url: n.url },
    }),
    "signer-locked": (n) => ({
      subject: `Signer locked: ${n.contractTitle}`,
      paragraphs: [
        `${n.signerName} entered too many wrong codes for "${n.contractTitle}" and can no longer sign it.`,
      ],
    }),
    declined: (n) => ({
      subject: `Declined: ${n.contractTitle}`,
      paragraphs: [`${n.signerName} declined to sign "${n.contractTitle}".`, `Reason: ${n.reason}`],
    }),
    voided: (n) => ({
      subject: `Voided: ${n.contractTitle}`,
      paragraphs: [
        `Hello ${n.recipientName},`,
        `"${n.contractTitle}" was voided and can no longer be signed.`,
      ],
    }),
    expired: (n) => ({
      subject: `Expired: ${n.contractTitle}`,
      paragraphs: [`Hello ${n.recipientName},`, `"${n.contractTitle}" expired before every party signed it.`],
    }),
  },
  "zh-CN": {
    invitation: (n) => ({
      subject: `请签署：${n.contractTitle}`,
      paragraphs: [
        `${n.signerName}，您好：`,
        `${n.senderName} 邀请您签署《${n.contractTitle}》。`,
        ...(n.expiresAt ? [`请在 ${n.expiresAt} 之前完成签署。`] : []),
      ],
      link: { label: "查看并签署", url: n.url },
    }),
    otp: (n) => ({
      subject: `《${n.contractTitle}》签署验证码`,
      paragraphs: [
        `${n.signerName}，您好：`,
        `您签署《${n.contractTitle}》的一次性验证码是 ${n.code}。`,
        `验证码 ${n.minutes} 分钟内有效，请勿告诉他人。`,
      ],
    }),
    reminder: (n) => ({
      subject: `提醒：请签署《${n.contractTitle}》`,
      paragraphs: [
        `${n.signerName}，您好：`,
        `${n.senderName} 仍在等待您签署《${n.contractTitle}》。`,
        ...(n.expiresAt ? [`请在 ${n.expiresAt} 之前完成签署。`] : []),
      ],
      link: { label: "查看并签署", url: n.url },
    }),
    completed: (n) => ({
      subject: `已完成：${n.contractTitle}`,
      paragraphs: [`${n.recipientName}，您好：`, `《${n.contractTitle}》已由各方签署完成。`],
      link: { label: "下载已签署的文件", url: n.url },
    }),
    "signer-locked": (n) => ({
      subject: `签署人已锁定：${n.contractTitle}`,
      paragraphs: [`${n.signerName} 在《${n.contractTitle}》中输错验证码次数过多，已无法签署。`],
    }),
    declined: (n) => ({
      subject: `已拒签：${n.contractTitle}`,
      paragraphs: [`${n.signerName} 拒绝签署《${n.contractTitle}》。`, `原因：${n.reason}`],
    }),
    voided: (n) => ({
      subject: `已作废：${n.contractTitle}`,
      paragraphs: [`${n.recipientName}，您好：`, `《${n.contractTitle}》已被作废，无法再签署。`],
    }),
    expired: (n) => ({
      subject: `已过期：${n.contractTitle}`,
      paragraphs: [`${n.recipientName}，您好：`, `《${n.contractTitle}》在各方签署完成前已过期。`],
    }),
  },
};

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

/** `2026-12-31T17:00:00.000Z` → `2026-12-31 17:00 UTC`; anything unparsable is shown as given. */
function readableTime(iso: string): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  return `${time.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The notice with every string value passed through `transform` (the kind stays as it is). */
function mapValues<N extends Notice>(notice: N, transform: (value: string) => string): N {
  const entries = Object.entries(notice).map(([key, value]) => [
    key,
    key !== "kind" && typeof value === "string" ? transform(value) : value,
  ]);
  return Object.fromEntries(entries) as N;
}

/** Subject, plain text and HTML of a notification mail (or, the text, of an SMS). */
export function renderNotice(notice: Notice, lang: NoticeLanguage = "en"): RenderedNotice {
  const template = CATALOGUE[lang][notice.kind] as Template<Notice["kind"]>;
  const readable =
    "expiresAt" in notice && notice.expiresAt
      ? { ...notice, expiresAt: readableTime(notice.expiresAt) }
      : notice;
  const plain = template(readable);
  const escaped = template(mapValues(readable, escapeHtml));
  const text = [...plain.paragraphs, ...(plain.link ? [`${plain.link.label}: ${plain.link.url}`] : [])].join(
    "\n\n",
  );
  const html = [
    "<!doctype html>",
    `<html lang="${lang}"><head><meta charset="utf-8"><title>${escapeHtml(plain.subject)}</title></head><body>`,
    ...escaped.paragraphs.map((paragraph) => `<p>${paragraph}</p>`),
    ...(escaped.link ? [`<p><a href="${escaped.link.url}">${escaped.link.label}</a></p>`] : []),
    "</body></html>",
  ].join("\n");
  return { subject: plain.subject, text, html };
}
