/**
 * What the signer page and the console share: building elements (text only, never HTML strings,
 * so nothing a server or a signer typed can become markup), calling the API, the language.
 */
import { isLanguage, isMessageKey, LANGUAGES, type Language, type MessageKey, translate } from "./i18n";

type Child = Node | string | false | null | undefined;
type Attributes = Record<string, string | boolean | undefined>;

/** An element with attributes (false/undefined left out, true as "") and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    element.append(child);
  }
  return element;
}

/** An error answer of the API (`{ error: { code, message } }`), or `network` when none came. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the API on this origin; JSON in and out; a non-2xx answer throws ApiError. */
export async function callApi<T>(
  path: string,
  init: { method?: string; body?: unknown; apiKey?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.apiKey) headers.authorization = `Bearer ${init.apiKey}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "network", error instanceof Error ? error.message : String(error));
  }
  const text = await response.text();
  const body = text === "" ? undefined : safeJson(text);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? text);
  }
  return body as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const LANGUAGE_STORAGE_KEY = "esign.language";

/** The language the reader chose with the switcher, if they did. */
export function chosenLanguage(): Language | undefined {
  const chosen = localStorage.getItem(LANGUAGE_STORAGE_KEY);
  return isLanguage(chosen) ? chosen : undefined;
}

/** The reader's choice if they made one, else what the server picked from Accept-Language. */
export function currentLanguage(): Language {
  const chosen = chosenLanguage();
  if (chosen) return chosen;
  const served = document.documentElement.lang;
  return isLanguage(served) ? served : "en";
}

/** Translator bound to the current language; also sets `<html lang>` for screen readers. */
export function translator(language: Language) {
  document.documentElement.lang = language;
  return (key: MessageKey, params?: Record<string, string | number>) => translate(language, key, params);
}
export type Translate = ReturnType<typeof translator>;

/** A labelled language switcher; choosing re-renders through `onChange`. */
export function languageSwitcher(t: Translate, language: Language, onChange: () => void): HTMLElement {
  const select = h(
    "select",
    { id: "language" },
    ...LANGUAGES.map((each) =>
      h("option", { value: each, selected: each === language }, t(`language.${each}`)),
    ),
  );
  select.addEventListener("change", () => {
    localStorage.setItem(LANGUAGE_STORAGE_KEY, select.value);
    onChange();
  });
  return h("div", { class: "language" }, h("label", { for: "language" }, t("language.label")), select);
}

/** The message for an API error code, in the reader's language. */
export function errorMessage(t: Translate, error: unknown): string {
  if (!(error instanceof ApiError)) return t("error.other", { code: String(error) });
  const key = `error.${error.code}`;
  if (isMessageKey(key)) return t(key);
  return t("error.other", { code: error.code });
}
