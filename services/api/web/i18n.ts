/**
 * Every string of the signer page and the operator console, in every language, in one place. The
 * gateway picks the language from Accept-Language for the first render (and the page title); the
 * pages let the reader switch. A language missing a key does not compile (`satisfies Messages`).
 */
export const LANGUAGES = ["en", "zh-CN"] as const;
export type Language = (typeof LANGUAGES)[number];

const en = {
  "language.label": "Language",
  "language.en": "English",
  "language.zh-CN": "简体中文",
  "page.noscript": "This page needs JavaScript: please turn it on for this site.",

  "signer.title": "Sign a document",
  "signer.loading": "Loading the document…",
  "signer.requestedBy": "{sender} asks you to sign this document.",
  "signer.youSignAs": "You sign as {name} ({email}).",
  "signer.documentHeading": "Document",
  "signer.pageLabel": "Page {page} of {pages}",
  "signer.signatureHere": "Your signature goes here",
  "signer.signatureHeading": "Your handwritten signature (optional)",
  "signer.signatureHint":
    "Draw it with a mouse, finger or pen, or type your name. It is shown in your signature box, beside your name and the date.",
  "signer.signaturePad": "Drawing area for your signature",
  "signer.signatureTyped": "Or type your name",
  "signer.signatureClear": "Clear",
  "signer.downloadOriginal": "Download the document (PDF)",
  "signer.renderFailed": "The document could not be shown here; download it to read it.",
  "signer.signHeading": "Sign",
  "signer.consent": "I have read the document and agree to sign it electronically.",
  "signer.authHeading": "Prove that it is you",
  "signer.auth.email-otp": "We send a 6-digit code to your e-mail address.",
  "signer.auth.sms-otp": "We send a 6-digit code to your phone by text message.",
  "signer.auth.esign-api": "Your signing service sends you a one-time code; you also need your PIN.",
  "signer.auth.access-code": "Type the access code the sender gave you.",
  "signer.requestCode": "Send me a code",
  "signer.requestCodeAgain": "Send a new code",
  "signer.codeSent": "A code is on its way. It is valid for 10 minutes.",
  "signer.otp": "One-time code",
  "signer.pin": "PIN of your signing credential",
  "signer.accessCode": "Access code",
  "signer.sign": "Sign the document",
  "signer.signing": "Signing…",
  "signer.consentRequired": "Tick the box to agree before you sign.",
  "signer.codeRequired": "Type the code first.",
  "signer.attemptsLeft": "Attempts left: {count}.",
  "signer.declineHeading": "Decline to sign",
  "signer.declineReason": "Why do you decline? (the sender sees this)",
  "signer.decline": "Decline",
  "signer.declineReasonRequired": "Please give a reason.",
  "signer.doneHeading": "You have signed",
  "signer.doneText": "Thank you. Your signature has been applied to the document.",
  "signer.downloadSigned": "Download the signed PDF",
  "signer.declinedHeading": "You declined to sign",
  "signer.declinedText": "The sender has been told.",

  "error.E_AUTH_FAILED": "That code is not right. Check it and try again.",
  "error.E_LOCKED": "Too many wrong codes: signing is locked for you. The sender has been told.",
  "error.E_NOT_YOUR_TURN": "It is not your turn yet. You will receive an e-mail when it is.",
  "error.E_CONTRACT_CLOSED": "This contract is closed and can no longer be signed or declined.",
  "error.E_CONTRACT_NOT_SENT": "This contract has not been sent yet. You will receive an e-mail when it is.",
  "error.E_NOT_FOUND": "This link is not valid. Check that you opened the whole link from your e-mail.",
  "error.E_RATE_LIMITED": "Too many attempts. Wait a minute and try again.",
  "error.E_UNAUTHORIZED": "The API key was refused.",
  "error.E_FORBIDDEN": "This API key may not do that.",
  "error.network": "The server could not be reached. Check your connection and try again.",
  "error.other": "Something went wrong ({code}). Try again later.",

  "console.title": "esign-agent console",
  "console.loginHeading": "Sign in",
  "console.apiKey": "API key",
  "console.apiKeyHint": "Kept in this browser tab only, and sent to this server alone.",
  "console.login": "Sign in",
  "console.logout": "Sign out",
  "console.scope": "Tenant {tenant} · key {key}",
  "console.scopeAdmin": "Administrator (all tenants) · key {key}",
  "console.nav": "Sections",
  "console.contracts": "Contracts",
  "console.batches": "Batches",
  "console.failedJobs": "Failed jobs",
  "console.refresh": "Refresh",
  "console.statusFilter": "Status",
  "console.all": "All",
  "console.empty": "Nothing to show.",
  "console.unavailable": "Not available on this agent ({code}).",
  "console.col.title": "Title",
  "console.col.tenant": "Tenant",
  "console.col.status": "Status",
  "console.col.signers": "Signers",
  "console.col.created": "Created",
  "console.col.actions": "Actions",
  "console.col.id": "Id",
  "console.col.progress": "Progress",
  "console.col.throughput": "Documents/s",
  "console.col.error": "Error",
  "console.col.attempts": "Attempts",
  "console.col.failedAt": "Failed at",
  "console.col.event": "Event",
  "console.col.time": "Time",
  "console.col.details": "Details",
  "console.col.method": "Method",
  "console.col.outcome": "Outcome",
  "console.col.url": "Receiver",
  "console.details": "Details",
  "console.hide": "Hide",
  "console.audit": "Audit trail",
  "console.auditValid": "Hash chain verified: {entries} entries, none altered.",
  "console.auditBroken": "The hash chain does not verify: {reason}",
  "console.void": "Void",
  "console.voidReason": "Reason for voiding",
  "console.voided": "Contract {id} voided.",
  "console.retry": "Retry",
  "console.retried": "Job {id} queued again.",
  "console.deliveries": "Webhook deliveries",
  "console.progress": "{done} of {total} done, {failed} failed",
} as const;

type MessageKey = keyof typeof en;
type Messages = Record<MessageKey, string>;

const zhCN = {
  "language.label": "语言",
  "language.en": "English",
  "language.zh-CN": "简体中文",
  "page.noscript": "此页面需要 JavaScript，请为本网站启用。",

  "signer.title": "签署文件",
  "signer.loading": "正在加载文件…",
  "signer.requestedBy": "{sender} 请您签署此文件。",
  "signer.youSignAs": "您将以 {name}（{email}）的身份签署。",
  "signer.documentHeading": "文件",
  "signer.pageLabel": "第 {page} 页，共 {pages} 页",
  "signer.signatureHere": "您的签名将位于此处",
  "signer.signatureHeading": "您的手写签名（可选）",
  "signer.signatureHint":
    "可用鼠标、手指或触控笔书写，也可输入您的姓名。它将显示在签名框中，位于您的姓名和日期旁边。",
  "signer.signaturePad": "签名书写区域",
  "signer.signatureTyped": "或输入您的姓名",
  "signer.signatureClear": "清除",
  "signer.downloadOriginal": "下载文件（PDF）",
  "signer.renderFailed": "无法在此显示文件，请下载后阅读。",
  "signer.signHeading": "签署",
  "signer.consent": "我已阅读该文件，并同意以电子方式签署。",
  "signer.authHeading": "验证您的身份",
  "signer.auth.email-otp": "我们会向您的电子邮箱发送一个 6 位验证码。",
  "signer.auth.sms-otp": "我们会通过短信向您的手机发送一个 6 位验证码。",
  "signer.auth.esign-api": "您的签名服务会向您发送一次性验证码；您还需要输入 PIN 码。",
  "signer.auth.access-code": "请输入发件人提供给您的访问码。",
  "signer.requestCode": "发送验证码",
  "signer.requestCodeAgain": "重新发送验证码",
  "signer.codeSent": "验证码已发送，10 分钟内有效。",
  "signer.otp": "一次性验证码",
  "signer.pin": "签名证书的 PIN 码",
  "signer.accessCode": "访问码",
  "signer.sign": "签署文件",
  "signer.signing": "正在签署…",
  "signer.consentRequired": "签署前请先勾选同意。",
  "signer.codeRequired": "请先输入验证码。",
  "signer.attemptsLeft": "剩余尝试次数：{count}。",
  "signer.declineHeading": "拒绝签署",
  "signer.declineReason": "拒绝的原因（发件人可以看到）",
  "signer.decline": "拒绝",
  "signer.declineReasonRequired": "请填写原因。",
  "signer.doneHeading": "您已完成签署",
  "signer.doneText": "谢谢。您的签名已加入文件。",
  "signer.downloadSigned": "下载已签署的 PDF",
  "signer.declinedHeading": "您已拒绝签署",
  "signer.declinedText": "我们已通知发件人。",

  "error.E_AUTH_FAILED": "验证码不正确，请检查后重试。",
  "error.E_LOCKED": "错误次数过多，您的签署已被锁定。我们已通知发件人。",
  "error.E_NOT_YOUR_TURN": "还没有轮到您签署。轮到您时，您会收到电子邮件。",
  "error.E_CONTRACT_CLOSED": "此合同已关闭，无法再签署或拒绝。",
  "error.E_CONTRACT_NOT_SENT": "此合同尚未发出。发出后您会收到电子邮件。",
  "error.E_NOT_FOUND": "此链接无效。请确认您打开的是邮件中的完整链接。",
  "error.E_RATE_LIMITED": "尝试次数过多，请稍等一分钟后再试。",
  "error.E_UNAUTHORIZED": "API 密钥被拒绝。",
  "error.E_FORBIDDEN": "此 API 密钥无权执行该操作。",
  "error.network": "无法连接服务器。请检查网络后重试。",
  "error.other": "出现错误（{code}），请稍后再试。",

  "console.title": "esign-agent 控制台",
  "console.loginHeading": "登录",
  "console.apiKey": "API 密钥",
  "console.apiKeyHint": "仅保存在此浏览器标签页中，且只发送到本服务器。",
  "console.login": "登录",
  "console.logout": "退出",
  "console.scope": "租户 {tenant} · 密钥 {key}",
  "console.scopeAdmin": "管理员（所有租户）· 密钥 {key}",
  "console.nav": "栏目",
  "console.contracts": "合同",
  "console.batches": "批次",
  "console.failedJobs": "失败的任务",
  "console.refresh": "刷新",
  "console.statusFilter": "状态",
  "console.all": "全部",
  "console.empty": "暂无内容。",
  "console.unavailable": "此服务不提供该功能（{code}）。",
  "console.col.title": "标题",
  "console.col.tenant": "租户",
  "console.col.status": "状态",
  "console.col.signers": "签署人",
  "console.col.created": "创建时间",
  "console.col.actions": "操作",
  "console.col.id": "编号",
  "console.col.progress": "进度",
  "console.col.throughput": "文件/秒",
  "console.col.error": "错误",
  "console.col.attempts": "尝试次数",
  "console.col.failedAt": "失败时间",
  "console.col.event": "事件",
  "console.col.time": "时间",
  "console.col.details": "详情",
  "console.col.method": "认证方式",
  "console.col.outcome": "结果",
  "console.col.url": "接收地址",
  "console.details": "详情",
  "console.hide": "收起",
  "console.audit": "审计记录",
  "console.auditValid": "哈希链校验通过：共 {entries} 条记录，均未被篡改。",
  "console.auditBroken": "哈希链校验失败：{reason}",
  "console.void": "作废",
  "console.voidReason": "作废原因",
  "console.voided": "合同 {id} 已作废。",
  "console.retry": "重试",
  "console.retried": "任务 {id} 已重新排队。",
  "console.deliveries": "Webhook 投递记录",
  "console.progress": "已完成 {done} / {total}，失败 {failed}",
} as const satisfies Messages;

const CATALOGUE: Record<Language, Messages> = { en, "zh-CN": zhCN };

export type { MessageKey };

/** The message in `language`, with `{name}` placeholders filled in. */
export function translate(
  language: Language,
  key: MessageKey,
  params: Record<string, string | number> = {},
): string {
  return CATALOGUE[language][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

export function isLanguage(value: unknown): value is Language {
  return LANGUAGES.includes(value as Language);
}

/**
 * The first language of an Accept-Language header we have (by q-value, then order): `zh`, `zh-CN`,
 * `zh-Hans` and `zh-SG` read Simplified Chinese; anything else falls back to English.
 */
export function languageFromAcceptLanguage(header: string | undefined): Language {
  const ranked = (header ?? "")
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      return { tag: tag.toLowerCase(), q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((entry) => entry.tag !== "" && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    if (tag === "zh" || tag === "zh-cn" || tag === "zh-sg" || tag.startsWith("zh-hans")) return "zh-CN";
    if (tag === "en" || tag.startsWith("en-")) return "en";
  }
  return "en";
}
