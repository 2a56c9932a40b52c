import { access, readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { EsignError } from "@esign/errors";
import type { FastifyInstance, FastifyReply } from "fastify";
import { type Language, languageFromAcceptLanguage, translate } from "../../web/i18n";

/**
 * Everything the pages load comes from this origin: no inline script or style, no third-party
 * origin, no framing, no plugins. PDF.js runs its worker from /assets and compiles its image
 * decoders to WebAssembly ('wasm-unsafe-eval' permits WebAssembly only, not JavaScript eval);
 * the drawn pages are canvases, images of the signer's pen may be data: URLs.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".bcmap": "application/octet-stream",
  ".pfb": "application/octet-stream",
  ".ttf": "font/ttf",
  ".icc": "application/vnd.iccprofile",
};

/**
 * Where `pnpm build` put the pages (scripts/build.mjs: `dist/web/` beside the bundle that contains
 * the gateway); from sources (tsx), the api's own build.
 */
const WEB_DIRECTORIES = [new URL("./web/", import.meta.url), new URL("../../dist/web/", import.meta.url)].map(
  (url) => fileURLToPath(url),
);

type Page = "signer" | "console";

/**
 * The signer page (`/s/<token>`), the operator console (`/console`) and their assets. The pages are
 * shells: the script reads the token from the address and talks to the API; nothing secret is in
 * the HTML. No key is needed to load them; the API calls they make are authorised as usual.
 */
export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const webDirectory = await builtPages(WEB_DIRECTORIES);
  if (!webDirectory) {
    app.log.warn("the browser pages are not built (pnpm build): /s/<token> and /console cannot load");
  }

  app.addHook("onSend", async (_request, reply) => {
    reply.header("content-security-policy", PAGE_CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("cross-origin-opener-policy", "same-origin");
    reply.header("cross-origin-resource-policy", "same-origin");
  });

  const sendPage = (reply: FastifyReply, page: Page, acceptLanguage: string | undefined) =>
    reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .send(shell(page, languageFromAcceptLanguage(acceptLanguage)));

  const hidden = { config: { public: true }, schema: { hide: true } } as const;
  app.get<{ Params: { token: string } }>("/s/:token", hidden, (request, reply) =>
    sendPage(reply, "signer", request.headers["accept-language"]),
  );
  app.get("/console", hidden, (request, reply) =>
    sendPage(reply, "console", request.headers["accept-language"]),
  );

  app.get<{ Params: { "*": string } }>("/assets/*", hidden, async (request, reply) => {
    const relative = normalize(request.params["*"]);
    const contentType = CONTENT_TYPES[extname(relative)];
    if (!webDirectory || !contentType || relative.split(sep).includes("..")) {
      throw new EsignError("E_NOT_FOUND", `no asset ${request.params["*"]}`);
    }
    const body = await readFile(join(webDirectory, relative)).catch(() => {
      throw new EsignError("E_NOT_FOUND", `no asset ${request.params["*"]}`);
    });
    // Not content-hashed: revalidated on each load, so a new build shows at once.
    return reply.type(contentType).header("cache-control", "no-cache").send(body);
  });
}

/** The first of `directories` that holds a build of the pages. */
async function builtPages(directories: string[]): Promise<string | undefined> {
  for (const directory of directories) {
    const built = await access(join(directory, "signer.js")).then(
      () => true,
      () => false,
    );
    if (built) return directory;
  }
  return undefined;
}

function shell(page: Page, language: Language): string {
  const title = translate(language, page === "signer" ? "signer.title" : "console.title");
  return `<!doctype html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/style.css">
<script type="module" src="/assets/${page}.js"></script>
</head>
<body${page === "console" ? ' class="console"' : ""}>
<div id="app"><noscript>${escapeHtml(translate(language, "page.noscript"))}</noscript></div>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
