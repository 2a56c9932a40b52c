import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ErrorCode, isEsignError } from "@esign/errors";
import { BufferSource, openPdf } from "@esign/pdf";
import { REPO_ROOT } from "@esign/testkit";
import { describe, expect, it } from "vitest";
import { AppearanceFont, fillTemplate, findText, type PlacementRequest, resolvePlacement } from "../src";

const FIXTURES = join(REPO_ROOT, "packages/appearance/test/fixtures");

async function open(path: string) {
  const source = new BufferSource(await readFile(path));
  return { source, doc: await openPdf(source) };
}

async function placementOf(fixture: string, request: PlacementRequest) {
  const { doc, source } = await open(join(FIXTURES, fixture));
  return resolvePlacement(doc, source, request);
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | unknown> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return isEsignError(error) ? error.code : error;
}

describe("text templates", () => {
  it("fills placeholders and leaves out lines whose placeholders are all empty", () => {
    const lines = fillTemplate("Signed by {name}\nReason: {reason}\n{location}, {date}\nThank you", {
      name: "Ива́н 张三",
      date: "2026-12-05 10:00:00 UTC",
    });
    expect(lines).toEqual(["Signed by Ива́н 张三", ", 2026-12-05 10:00:00 UTC", "Thank you"]);
  });

  it("refuses an unknown placeholder with E_APPEARANCE", async () => {
    expect(await codeOf(Promise.resolve().then(() => fillTemplate("{nmae}", {})))).toBe("E_APPEARANCE");
  });
});

describe("placement", () => {
  it("maps reader coordinates to user space on pages shown rotated", async () => {
    // /Rotate 90: the visible page is 842 x 595; x runs down the user-space y axis.
    expect(
      await placementOf("gs-contract-rotate90.pdf", { kind: "rect", page: 1, rect: [560, 40, 800, 120] }),
    ).toEqual({ page: 1, rect: [475, 560, 555, 800], rotation: 90, width: 240, height: 80 });
    expect(
      await placementOf("gs-contract-rotate270.pdf", { kind: "rect", page: 1, rect: [560, 40, 800, 120] }),
    ).toEqual({ page: 1, rect: [40, 42, 120, 282], rotation: 270, width: 240, height: 80 });
  });

  it("measures from the crop box, and the default spot is the bottom-right corner of the last page", async () => {
    expect(await placementOf("gs-cropped.pdf", { kind: "rect", rect: [10, 10, 210, 80] })).toMatchObject({
      rect: [110, 160, 310, 230],
    });
    expect(await placementOf("gs-contract.pdf", { kind: "field" })).toMatchObject({
      page: 3,
      rect: [595 - 36 - 200, 36, 595 - 36, 36 + 70],
    });
  });

  it("fills an existing empty signature field at its /Rect", async () => {
    const placement = await placementOf(
      join("..", "..", "..", "pdf/test/fixtures/pdflib-empty-sig-field.pdf"),
      {
        kind: "field",
      },
    );
    expect(placement).toEqual({
      page: 2,
      rect: [50, 100, 250, 150],
      rotation: 0,
      width: 200,
      height: 50,
      fieldName: "ClientSignature",
    });
  });

  it("refuses a rectangle outside the page, a page out of range and a missing anchor with E_APPEARANCE", async () => {
    expect(await codeOf(placementOf("gs-contract.pdf", { kind: "rect", rect: [500, 800, 700, 900] }))).toBe(
      "E_APPEARANCE",
    );
    expect(await codeOf(placementOf("gs-contract.pdf", { kind: "rect", page: 4, rect: [1, 1, 2, 2] }))).toBe(
      "E_APPEARANCE",
    );
    expect(await codeOf(placementOf("gs-contract.pdf", { kind: "anchor", text: "nowhere" }))).toBe(
      "E_APPEARANCE",
    );
  });
});

describe("text anchors (pdf.js)", () => {
  it("finds the first occurrence and its box in user space, also on a rotated page", async () => {
    // Ghostscript drew "{{seal}}" (Helvetica 14) at x=300 on the baseline y=200 of page 2.
    const { source } = await open(join(FIXTURES, "gs-contract.pdf"));
    const match = await findText(source, "{{seal}}");
    expect(match?.page).toBe(2);
    const [x1, y1, x2, y2] = match!.box;
    expect(x1).toBeCloseTo(300, 0);
    expect(y1).toBeCloseTo(197.2, 0);
    expect(x2).toBeGreaterThan(340);
    expect(y2).toBeCloseTo(214, 0);
    // The rotated file has the same user-space content. Shown turned by 90 degrees, the text runs
    // downwards and its lower-left corner (in the reader's view) is the user-space point
    // (x2, y1): the seal, 100 wide and 40 high as read, spans 40 in user x and 100 in user y.
    const rotated = await placementOf("gs-contract-rotate90.pdf", {
      kind: "anchor",
      text: "{{seal}}",
      size: [100, 40],
    });
    expect(rotated).toMatchObject({ page: 2, rotation: 90, width: 100, height: 40 });
    const [rx1, ry1, rx2, ry2] = rotated.rect;
    expect(rx2).toBeCloseTo(x2, 3);
    expect(rx2 - rx1).toBeCloseTo(40, 3);
    expect(ry1).toBeCloseTo(y1, 3);
    expect(ry2 - ry1).toBeCloseTo(100, 3);
  });
});

describe("fonts", () => {
  it("subsets and shapes CJK, Cyrillic and Greek, and names a missing glyph", async () => {
    const font = await AppearanceFont.open();
    const subset = await font.shape(["签名 Подпись Υπογραφή"]);
    expect(subset.lines[0]!.glyphs.every((glyph) => glyph.cid > 0)).toBe(true);
    const error = await font.shape(["한국어"]).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isEsignError(error) && error.code).toBe("E_APPEARANCE");
    expect((error as Error).message).toMatch(/has no glyph for '한' \(U\+D55C\)/);
  });
});
