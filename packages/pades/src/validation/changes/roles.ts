import {
  asInteger,
  isName,
  PdfDict,
  type PdfDocument,
  type PdfObject,
  PdfRef,
  PdfStream,
  PdfString,
} from "@esign/pdf";

/**
 * What an object is for in one revision, found by walking the document from its catalog (like
 * pyHanko's reference tracking): a change is judged by the role the object had when it was signed,
 * or, for a new object, by the role it takes in the revision that adds it.
 */
export type ObjectRole =
  | "catalog"
  | "page-tree"
  | "page"
  | "page-annotations"
  | "page-content"
  | "page-resources"
  | "annotation"
  | "widget"
  | "appearance"
  | "acroform"
  | "form-field"
  | "signature-field"
  | "signature"
  | "dss"
  | "document-info"
  | "metadata"
  | "document-other";

export interface RoleOf {
  role: ObjectRole;
  /** The annotation or field an appearance or widget belongs to. */
  owner?: number;
  /** Fully qualified name of the form field this object is (or is a widget or appearance of). */
  field?: string;
  /** The field's type (Tx, Btn, Ch, Sig), inherited from its ancestors. */
  fieldType?: string;
}

export interface RevisionRoles {
  roles: Map<number, RoleOf>;
  /** Object numbers referred to but not defined: a later revision that defines one changes what is shown. */
  dangling: Set<number>;
}

/** Keys that point back up the tree; following them would give children their parents' roles. */
const UPWARD_KEYS = new Set(["Parent", "P", "Prev", "Last", "First", "Next"]);
const MAX_WALKED = 500_000;

export async function revisionRoles(doc: PdfDocument): Promise<RevisionRoles> {
  const roles = new Map<number, RoleOf>();
  const dangling = new Set<number>();
  const live = new Set(doc.liveObjectEntries().map(({ num }) => num));

  const claim = (ref: PdfObject | undefined, role: RoleOf): boolean => {
    if (!(ref instanceof PdfRef) || roles.has(ref.num) || roles.size >= MAX_WALKED) return false;
    if (!live.has(ref.num)) {
      dangling.add(ref.num);
      return false;
    }
    roles.set(ref.num, role);
    return true;
  };
  /** Gives `role` to everything reachable from `start` that has no role yet. */
  const deep = async (start: PdfObject | undefined, role: RoleOf) => {
    const pending: PdfObject[] = [start ?? null];
    while (pending.length > 0) {
      const value = pending.pop()!;
      if (value instanceof PdfRef) {
        if (claim(value, role)) pending.push(await doc.getObject(value.num));
        else if (!live.has(value.num)) dangling.add(value.num);
      } else if (Array.isArray(value)) {
        pending.push(...value);
      } else if (value instanceof PdfDict || value instanceof PdfStream) {
        const dict = value instanceof PdfStream ? value.dict : value;
        for (const [key, item] of dict.entries) if (!UPWARD_KEYS.has(key)) pending.push(item);
      }
    }
  };

  // Appearances are walked after the pages: a font shared by a page and a field appearance is a
  // page resource, whose change alters what the page shows.
  const appearances: Array<[PdfObject | undefined, RoleOf]> = [];
  const catalogRef = doc.catalogRef;
  claim(catalogRef, { role: "catalog" });
  const catalog = await doc.catalog();

  // Interactive form first: a merged field/widget is a field before it is an annotation.
  const formValue = catalog.get("AcroForm");
  claim(formValue, { role: "acroform" });
  const form = await doc.resolveDict(formValue);
  const fieldsValue = form?.get("Fields");
  claim(fieldsValue, { role: "acroform" });
  const visitField = async (value: PdfObject, parentName: string, inheritedType: string | undefined) => {
    const dict = await doc.resolveDict(value);
    if (!dict || (value instanceof PdfRef && roles.has(value.num))) return;
    const partial = dict.get("T");
    const name =
      partial instanceof PdfString
        ? parentName
          ? `${parentName}.${partial.toLatin1()}`
          : partial.toLatin1()
        : parentName;
    const fieldType = dict.get("FT");
    const type = isName(fieldType) ? fieldType.name : inheritedType;
    const role: ObjectRole = type === "Sig" ? "signature-field" : "form-field";
    const ofField = { field: name, fieldType: type };
    claim(value, { role, ...ofField });
    if (type === "Sig") await deep(dict.get("V"), { role: "signature", ...ofField });
    const kidsValue = dict.get("Kids");
    claim(kidsValue, { role, ...ofField });
    for (const kid of (await doc.resolveArray(kidsValue)) ?? []) {
      const kidDict = await doc.resolveDict(kid);
      if (kidDict?.has("T")) await visitField(kid, name, type);
      else if (kidDict && claim(kid, { role: "widget", ...ofField })) {
        appearances.push([kidDict.get("AP"), { role: "appearance", owner: (kid as PdfRef).num, ...ofField }]);
      }
    }
    const own = value instanceof PdfRef ? value.num : undefined;
    appearances.push([dict.get("AP"), { role: "appearance", owner: own, ...ofField }]);
  };
  for (const field of (await doc.resolveArray(fieldsValue)) ?? []) await visitField(field, "", undefined);

  // Page tree, pages, their content, resources and annotations.
  const walkPages = async (value: PdfObject | undefined, depth: number) => {
    if (depth > doc.limits.maxTreeDepth) return;
    const node = await doc.resolveDict(value);
    if (!node) return;
    const isLeaf = isName(node.get("Type"), "Page") || !node.has("Kids");
    if (!isLeaf) {
      claim(value, { role: "page-tree" });
      claim(node.get("Kids"), { role: "page-tree" });
      for (const kid of (await doc.resolveArray(node.get("Kids"))) ?? []) await walkPages(kid, depth + 1);
      await deep(node.get("Resources"), { role: "page-resources" });
      return;
    }
    if (!claim(value, { role: "page" })) return;
    const page = (value as PdfRef).num;
    await deep(node.get("Contents"), { role: "page-content", owner: page });
    await deep(node.get("Resources"), { role: "page-resources", owner: page });
    const annotsValue = node.get("Annots");
    claim(annotsValue, { role: "page-annotations", owner: page });
    for (const annot of (await doc.resolveArray(annotsValue)) ?? []) {
      const dict = await doc.resolveDict(annot);
      const widget = isName(dict?.get("Subtype"), "Widget");
      if (claim(annot, { role: widget ? "widget" : "annotation", owner: page })) {
        const owner = (annot as PdfRef).num;
        appearances.push([dict?.get("AP"), { role: "appearance", owner }]);
        await deep(dict?.get("Popup"), { role: "annotation", owner });
      }
    }
    // Anything else a page refers to (thumbnails, group, metadata) changes what the page is.
    await deep(node, { role: "page", owner: page });
  };
  await walkPages(catalog.get("Pages"), 0);
  for (const [start, role] of appearances) await deep(start, role);
  await deep(form?.get("DR"), { role: "acroform" });

  await deep(catalog.get("DSS"), { role: "dss" });
  await deep(catalog.get("Metadata"), { role: "metadata" });
  await deep(doc.trailer.get("Info"), { role: "document-info" });
  // Outlines, names, actions, structure tree...: what the document does and how it is read.
  for (const value of catalog.entries.values()) {
    await deep(value, { role: "document-other" });
  }
  return { roles, dangling };
}

/** `/Ff` bit 1: the user may not change the field's value. */
export function isReadOnlyField(dict: PdfDict | undefined): boolean {
  return ((asInteger(dict?.get("Ff")) ?? 0) & 1) === 1;
}
