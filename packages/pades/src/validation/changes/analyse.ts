import {
  isName,
  type OpenOptions,
  PdfDict,
  type PdfDocument,
  PdfName,
  type PdfObject,
  PdfRef,
  PdfStream,
  PdfString,
} from "@esign/pdf";
import { openRevision, revisionEnds } from "../revisions";
import { hiddenSignedText, SignedText } from "./overlay";
import { describePolicy, type ModificationPolicy } from "./policy";
import { isReadOnlyField, type RevisionRoles, type RoleOf, revisionRoles } from "./roles";

/** One object a later revision added, changed or removed, and the verdict on it. */
export interface DocumentChange {
  /** "num gen" of the object. */
  object: string;
  /** The object's role (page-content, form-field, dss...) or what was done to it (xref-redirect...). */
  kind: string;
  allowed: boolean;
  why: string;
}

export type Modifications = "none" | "allowed" | "disallowed";

export interface ModificationReport {
  modifications: Modifications;
  changes: DocumentChange[];
}

type Entry = ReturnType<PdfDocument["liveObjectEntries"]>[number]["entry"];

function entryKey(entry: Entry): string {
  return JSON.stringify(entry);
}

/** A thousandth of a unit: far below anything a viewer shows differently. */
const REAL_TOLERANCE = 1e-3;

async function sameValue(
  before: PdfDocument,
  after: PdfDocument,
  a: PdfObject | undefined,
  b: PdfObject | undefined,
): Promise<boolean> {
  if (a === b) return true;
  // Tools rewrite reals at their own precision (MuPDF writes 595.303937007874 as 595.30398).
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) < REAL_TOLERANCE;
  if (a instanceof PdfRef && b instanceof PdfRef) return a.num === b.num && a.gen === b.gen;
  if (a instanceof PdfString && b instanceof PdfString) return Buffer.compare(a.bytes, b.bytes) === 0;
  if (a instanceof PdfName && b instanceof PdfName) return a.name === b.name;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!(await sameValue(before, after, a[i], b[i]))) return false;
    return true;
  }
  if (a instanceof PdfDict && b instanceof PdfDict)
    return (await changedKeys(before, after, a, b)).length === 0;
  if (a instanceof PdfStream && b instanceof PdfStream) {
    if ((await changedKeys(before, after, a.dict, b.dict)).some((key) => key !== "Length")) return false;
    const [dataA, dataB] = await Promise.all([rawStream(before, a), rawStream(after, b)]);
    return dataA !== undefined && dataB !== undefined && Buffer.compare(dataA, dataB) === 0;
  }
  return false;
}

/** A stream's bytes as stored (any filter), so unknown filters compare too. */
async function rawStream(doc: PdfDocument, stream: PdfStream): Promise<Buffer | undefined> {
  const length = await doc.resolve(stream.dict.get("Length"));
  if (!stream.location || typeof length !== "number") return undefined;
  return Buffer.from(await doc.source.read(stream.location.offset, length));
}

async function changedKeys(
  before: PdfDocument,
  after: PdfDocument,
  a: PdfDict,
  b: PdfDict,
): Promise<string[]> {
  const keys = new Set([...a.entries.keys(), ...b.entries.keys()]);
  const changed: string[] = [];
  for (const key of keys) if (!(await sameValue(before, after, a.get(key), b.get(key)))) changed.push(key);
  return changed;
}

function dictOf(value: PdfObject): PdfDict | undefined {
  return value instanceof PdfStream ? value.dict : value instanceof PdfDict ? value : undefined;
}

const rolesCache = new WeakMap<PdfDocument, Promise<RevisionRoles>>();
function rolesOf(doc: PdfDocument): Promise<RevisionRoles> {
  let roles = rolesCache.get(doc);
  if (!roles) {
    roles = revisionRoles(doc);
    rolesCache.set(doc, roles);
  }
  return roles;
}

/** Keys a form fill may change on a field or its widget: the value and how it looks. */
const FILL_KEYS = new Set(["V", "AP", "AS"]);
/** Keys the /AcroForm dictionary may change when a field is signed or filled. */
const ACROFORM_KEYS = new Set(["Fields", "SigFlags", "DR", "DA", "NeedAppearances"]);
/** Catalog keys that validation data and signing touch. */
const CATALOG_KEYS = new Set(["DSS", "Extensions", "AcroForm", "Metadata"]);

const INHERITABLE_PAGE_KEYS = new Set(["MediaBox", "CropBox", "Rotate", "Resources"]);

/** A page attribute as it applies: the page's own, else the nearest ancestor's, resolved. */
async function inheritedValue(
  doc: PdfDocument,
  page: PdfDict | undefined,
  key: string,
): Promise<PdfObject | undefined> {
  let node = page;
  for (let depth = 0; node && depth < doc.limits.maxTreeDepth; depth++) {
    if (node.has(key)) return doc.resolve(node.get(key));
    node = await doc.resolveDict(node.get("Parent"));
  }
  return undefined;
}

/**
 * The xref entries of a revision's objects, without those a later section freed: the reader still
 * resolves a freed object to its older definition, but a viewer reads it as null, so it is gone.
 */
function definedEntries(doc: PdfDocument): Map<number, Entry> {
  const freed = new Set(doc.freedObjectNumbers());
  return new Map(
    doc
      .liveObjectEntries()
      .filter(({ num }) => !freed.has(num))
      .map(({ num, entry }) => [num, entry]),
  );
}

/** Judges the changes between two consecutive revisions under one signature's policy. */
class RevisionDiff {
  private readonly rules: string;
  private readonly beforeEntries: Map<number, Entry>;
  private readonly afterEntries: Map<number, Entry>;
  constructor(
    private readonly before: PdfDocument,
    private readonly after: PdfDocument,
    private readonly beforeRoles: RevisionRoles,
    private readonly afterRoles: RevisionRoles,
    private readonly policy: ModificationPolicy,
    private readonly signedText: SignedText,
  ) {
    this.rules = describePolicy(policy);
    this.beforeEntries = definedEntries(before);
    this.afterEntries = definedEntries(after);
  }

  private get fillAllowed(): boolean {
    return this.policy.docMdp !== 1;
  }
  private get annotationsAllowed(): boolean {
    return this.policy.docMdp === undefined || this.policy.docMdp === 3;
  }

  async changes(): Promise<DocumentChange[]> {
    const { beforeEntries, afterEntries } = this;
    const rewritten = new Set<number>();
    for (const num of afterEntries.keys()) if (this.isRewritten(num)) rewritten.add(num);
    const changes: DocumentChange[] = [];
    for (const [num, entry] of afterEntries) {
      const old = beforeEntries.get(num);
      const viaObjectStream =
        entry?.kind !== undefined && "streamNum" in entry && rewritten.has(entry.streamNum)
          ? entry.streamNum
          : undefined;
      if (!rewritten.has(num) && viaObjectStream === undefined) continue;
      const change = old ? await this.judgeReplaced(num, entry, viaObjectStream) : await this.judgeAdded(num);
      if (change) changes.push(change);
    }
    for (const [num] of beforeEntries) {
      if (afterEntries.has(num)) continue;
      // Whatever the signed revision showed or relied on (page content, an annotation, an XObject,
      // a field...) may not vanish under any P: a freed overlay is shadow attack "hide". An object
      // nothing referred to showed nothing, so freeing it is the garbage collection tools do.
      const role = this.beforeRoles.roles.get(num);
      changes.push(
        role
          ? this.verdict(num, role.role, false, `${role.role} object deleted after signing`)
          : this.verdict(num, "unreferenced", true, "an object nothing referred to was freed"),
      );
    }
    for (const change of changes) {
      if (!change.allowed) continue;
      const hidden = await this.hiddenText(Number.parseInt(change.object, 10));
      if (!hidden) continue;
      change.allowed = false;
      change.why += `, but it is drawn over signed text on page ${hidden.page} ("${hidden.text}"): shadow attack "hide" by overlay`;
    }
    return changes;
  }

  /**
   * The signed text an allowed change draws over: an annotation added or changed, or an appearance
   * added or replaced for an annotation or a form field (a fill), when the annotation did not
   * already cover that text before this revision (what the signer saw hidden was not shown to
   * them). A signature's own appearance is where its signer chose to put it, and is not judged here.
   */
  private async hiddenText(num: number): Promise<{ page: number; text: string } | undefined> {
    const role = this.afterRoles.roles.get(num);
    let annotation = num;
    let appearance: PdfStream | undefined;
    if (role?.role === "appearance" && role.owner !== undefined && role.fieldType !== "Sig") {
      const stream = await this.after.getObject(num);
      // Only the appearance streams themselves (fonts and images they use are not drawn alone).
      if (!(stream instanceof PdfStream) || !stream.dict.has("BBox")) return undefined;
      annotation = role.owner;
      appearance = stream;
    } else if (role?.role !== "annotation") {
      return undefined;
    }
    const ref = new PdfRef(annotation, 0);
    const now = await this.after.resolveDict(ref);
    const hidden = now && (await hiddenSignedText(this.after, annotation, now, this.signedText, appearance));
    if (!hidden) return undefined;
    const before = this.beforeEntries.has(annotation) ? await this.before.resolveDict(ref) : undefined;
    const already = before && (await hiddenSignedText(this.before, annotation, before, this.signedText));
    return already?.page === hidden.page && already.text === hidden.text ? undefined : hidden;
  }

  private verdict(num: number, kind: string, allowed: boolean, why: string): DocumentChange {
    const entry = this.afterEntries.get(num) ?? this.beforeEntries.get(num);
    const gen = entry && "gen" in entry ? entry.gen : 0;
    return { object: `${num} ${gen}`, kind, allowed, why };
  }

  private async judgeAdded(num: number): Promise<DocumentChange> {
    if (this.beforeRoles.dangling.has(num)) {
      return this.verdict(
        num,
        "dangling-reference",
        false,
        "defines an object the signed revision referred to without defining it: content appears that was not signed",
      );
    }
    const role = this.afterRoles.roles.get(num);
    if (!role) return this.unreferenced(num, await this.after.getObject(num));
    return this.judgeRole(num, role, undefined, await this.after.getObject(num));
  }

  private async judgeReplaced(
    num: number,
    entry: Entry,
    viaObjectStream: number | undefined,
  ): Promise<DocumentChange | undefined> {
    const [oldValue, newValue] = await Promise.all([this.before.getObject(num), this.after.getObject(num)]);
    if (await sameValue(this.before, this.after, oldValue, newValue)) return undefined;
    const olderBytes = this.olderBytes(entry);
    if (olderBytes) {
      return this.verdict(
        num,
        "xref-redirect",
        false,
        `the cross-reference now points object ${num} at older bytes (${olderBytes}) holding other content: shadow attack "hide"`,
      );
    }
    const role = this.beforeRoles.roles.get(num) ?? this.afterRoles.roles.get(num);
    const change = role
      ? await this.judgeRole(num, role, oldValue, newValue)
      : this.unreferenced(num, newValue);
    if (viaObjectStream !== undefined && !this.isRewritten(num)) {
      change.why += ` (replaced by rewriting object stream ${viaObjectStream} without a new xref entry)`;
    }
    return change;
  }

  /**
   * Where an entry points into bytes that were already there when signed (a plain object's offset,
   * or a member of an object stream this revision did not rewrite), said for the report. A new
   * definition is written after the signed bytes, so a changed object found there was not defined
   * anew: an older definition was brought back.
   */
  private olderBytes(entry: Entry): string | undefined {
    if (entry && "offset" in entry && entry.offset < this.before.source.size) return `offset ${entry.offset}`;
    if (
      entry &&
      "streamNum" in entry &&
      this.beforeEntries.has(entry.streamNum) &&
      !this.isRewritten(entry.streamNum)
    )
      return `object stream ${entry.streamNum}, index ${entry.index}`;
    return undefined;
  }

  private isRewritten(num: number): boolean {
    const before = this.beforeEntries.get(num);
    const after = this.afterEntries.get(num);
    return !before || !after || entryKey(before) !== entryKey(after);
  }

  private unreferenced(num: number, value: PdfObject): DocumentChange {
    const type = dictOf(value)?.get("Type");
    if (isName(type, "ObjStm") || isName(type, "XRef")) {
      return this.verdict(
        num,
        "structure",
        true,
        "object stream or cross-reference stream: its members are judged one by one",
      );
    }
    return this.verdict(num, "unreferenced", true, "not referenced from the document, so not shown");
  }

  private async judgeRole(
    num: number,
    of: RoleOf,
    oldValue: PdfObject | undefined,
    newValue: PdfObject,
  ): Promise<DocumentChange> {
    const added = oldValue === undefined;
    const oldDict = oldValue === undefined ? undefined : dictOf(oldValue);
    const newDict = dictOf(newValue);
    const keys = oldDict && newDict ? await changedKeys(this.before, this.after, oldDict, newDict) : [];
    const say = (allowed: boolean, why: string) => this.verdict(num, of.role, allowed, why);
    const forbidden = (what: string) => say(false, `${this.rules} does not allow ${what}`);
    switch (of.role) {
      case "dss":
        return say(true, "validation data (/DSS)");
      case "document-info":
        return say(true, "document information dictionary");
      case "metadata":
        return say(true, "XMP metadata");
      case "signature": {
        if (!added) return say(false, "a signature dictionary changed after it was signed");
        if (isName(newDict?.get("Type"), "DocTimeStamp")) return say(true, "document time-stamp");
        return this.fillAllowed ? say(true, "new signature") : forbidden("new signatures");
      }
      case "signature-field":
      case "form-field":
      case "widget":
        return this.judgeField(of, added, keys, oldDict, newDict, say, forbidden);
      case "appearance":
        return this.judgeAppearance(of, added, say, forbidden);
      case "annotation":
        return this.annotationsAllowed
          ? say(true, added ? "annotation added" : "annotation changed")
          : forbidden("annotations");
      case "page":
      case "page-annotations":
        return this.judgePage(of, added, keys, oldValue, newValue, say);
      case "page-content":
        return say(
          false,
          added
            ? "new content stream on a page: what the page shows changed"
            : "page content changed after signing",
        );
      case "page-resources":
        return say(
          false,
          "page resources (fonts, images, form XObjects) changed: what the page shows can change",
        );
      case "page-tree":
        return say(false, "page tree changed (pages added, removed, reordered or replaced)");
      case "catalog": {
        const bad = keys.filter((key) => !CATALOG_KEYS.has(key));
        return bad.length === 0
          ? say(true, `catalog ${keys.map((k) => `/${k}`).join(" ")} updated`)
          : say(false, `catalog ${bad.map((k) => `/${k}`).join(" ")} changed`);
      }
      case "acroform":
        return this.judgeAcroForm(keys, oldValue, newValue, say, forbidden);
      case "document-other":
        return say(false, "document-level object changed (outline, names, actions, structure...)");
    }
  }

  private async isTimestampField(dict: PdfDict | undefined): Promise<boolean> {
    const value = await this.after.resolveDict(dict?.get("V"));
    return isName(value?.get("Type"), "DocTimeStamp");
  }

  private async judgeField(
    of: RoleOf,
    added: boolean,
    keys: string[],
    oldDict: PdfDict | undefined,
    newDict: PdfDict | undefined,
    say: (allowed: boolean, why: string) => DocumentChange,
    forbidden: (what: string) => DocumentChange,
  ): Promise<DocumentChange> {
    const field = of.field ?? "?";
    const signatureField = of.fieldType === "Sig";
    const timestamp = signatureField && (await this.isTimestampField(newDict));
    if (added) {
      if (timestamp) return say(true, `document time-stamp field ${field}`);
      if (signatureField)
        return this.fillAllowed ? say(true, `signature field ${field} added`) : forbidden("new signatures");
      return say(false, `form field ${field} added after signing`);
    }
    const other = keys.filter((key) => !FILL_KEYS.has(key));
    if (other.length > 0) {
      return say(
        false,
        `field ${field}: ${other.map((k) => `/${k}`).join(" ")} changed (a field may only be filled; this can move, hide or reveal content)`,
      );
    }
    if (signatureField && oldDict?.has("V") && of.role !== "widget")
      return say(false, `signed field ${field} changed`);
    if (this.policy.locked(field)) return say(false, `field ${field} is locked by a signature (FieldMDP)`);
    if (of.role !== "widget" && isReadOnlyField(oldDict))
      return say(false, `read-only field ${field} changed`);
    if (timestamp) return say(true, `document time-stamp in field ${field}`);
    if (!this.fillAllowed) return forbidden(signatureField ? "new signatures" : "form filling");
    return say(true, signatureField ? `field ${field} signed` : `form field ${field} filled`);
  }

  private async judgeAppearance(
    of: RoleOf,
    added: boolean,
    say: (allowed: boolean, why: string) => DocumentChange,
    forbidden: (what: string) => DocumentChange,
  ): Promise<DocumentChange> {
    const owner =
      of.owner === undefined
        ? undefined
        : (this.afterRoles.roles.get(of.owner) ?? this.beforeRoles.roles.get(of.owner));
    const what = added ? "appearance added" : "appearance replaced";
    if (!owner || owner.role === "annotation") {
      return this.annotationsAllowed ? say(true, `${what} for an annotation`) : forbidden("annotations");
    }
    const field = owner.field ?? "?";
    if (owner.fieldType === "Sig") {
      const ownerDict =
        of.owner === undefined ? undefined : await this.after.resolveDict(new PdfRef(of.owner, 0));
      if (await this.isTimestampField(ownerDict)) return say(true, `${what} for time-stamp field ${field}`);
      const wasSigned = this.beforeRoles.roles.get(of.owner!) !== undefined && !added;
      if (wasSigned) return say(false, `appearance of signature field ${field} replaced after signing`);
    }
    if (this.policy.locked(field)) return say(false, `field ${field} is locked by a signature (FieldMDP)`);
    return this.fillAllowed ? say(true, `${what} for field ${field}`) : forbidden("form filling");
  }

  private async judgePage(
    of: RoleOf,
    added: boolean,
    keys: string[],
    oldValue: PdfObject | undefined,
    newValue: PdfObject,
    say: (allowed: boolean, why: string) => DocumentChange,
  ): Promise<DocumentChange> {
    if (added && of.role === "page") return say(false, "page added");
    let oldList: PdfObject[] | undefined;
    let newList: PdfObject[] | undefined;
    if (of.role === "page-annotations") {
      oldList = Array.isArray(oldValue) ? oldValue : [];
      newList = Array.isArray(newValue) ? newValue : [];
    } else {
      const bad: string[] = [];
      for (const key of keys) {
        if (key === "Annots") continue;
        // A tool may copy an inherited /MediaBox or /Resources onto the page: the same page.
        const same =
          INHERITABLE_PAGE_KEYS.has(key) &&
          (await sameValue(
            this.before,
            this.after,
            await inheritedValue(this.before, dictOf(oldValue ?? null), key),
            await inheritedValue(this.after, dictOf(newValue), key),
          ));
        if (!same) bad.push(key);
      }
      if (bad.length > 0) return say(false, `page ${bad.map((k) => `/${k}`).join(" ")} changed`);
      oldList = (await this.before.resolveArray(dictOf(oldValue ?? null)?.get("Annots"))) ?? [];
      newList = (await this.after.resolveArray(dictOf(newValue)?.get("Annots"))) ?? [];
    }
    const refs = (list: PdfObject[]) =>
      new Set(list.filter((item) => item instanceof PdfRef).map((item) => (item as PdfRef).num));
    const [oldRefs, newRefs] = [refs(oldList), refs(newList)];
    const problems: string[] = [];
    for (const num of newRefs) {
      if (oldRefs.has(num)) continue;
      const role = this.afterRoles.roles.get(num);
      if (role?.role === "annotation" || (role?.role === "widget" && role.field === undefined)) {
        if (!this.annotationsAllowed) problems.push(`annotation ${num} added (${this.rules})`);
      } else if (role?.fieldType === "Sig") {
        const dict = await this.after.resolveDict(new PdfRef(num, 0));
        const fieldDict = dict?.has("V") ? dict : await this.after.resolveDict(dict?.get("Parent"));
        if (!this.fillAllowed && !(await this.isTimestampField(fieldDict)))
          problems.push(`signature widget ${num} added (${this.rules})`);
      } else {
        problems.push(`widget ${num} of a new form field added`);
      }
    }
    for (const num of oldRefs) {
      if (newRefs.has(num)) continue;
      const role = this.beforeRoles.roles.get(num);
      if (role?.role !== "annotation" || !this.annotationsAllowed)
        problems.push(`${role?.role ?? "annotation"} ${num} removed`);
    }
    return problems.length === 0
      ? say(true, "page annotations: only allowed additions")
      : say(false, problems.join("; "));
  }

  private async judgeAcroForm(
    keys: string[],
    oldValue: PdfObject | undefined,
    newValue: PdfObject,
    say: (allowed: boolean, why: string) => DocumentChange,
    forbidden: (what: string) => DocumentChange,
  ): Promise<DocumentChange> {
    let oldList: PdfObject[] | undefined;
    let newList: PdfObject[] | undefined;
    if (Array.isArray(newValue)) {
      oldList = Array.isArray(oldValue) ? oldValue : [];
      newList = newValue;
    } else {
      const bad = keys.filter((key) => !ACROFORM_KEYS.has(key));
      if (bad.length > 0) return say(false, `/AcroForm ${bad.map((k) => `/${k}`).join(" ")} changed`);
      if (!keys.includes("Fields"))
        return this.fillAllowed || oldValue === undefined
          ? say(true, "/AcroForm updated")
          : forbidden("form changes");
      oldList = (await this.before.resolveArray(dictOf(oldValue ?? null)?.get("Fields"))) ?? [];
      newList = (await this.after.resolveArray(dictOf(newValue)?.get("Fields"))) ?? [];
    }
    const nums = (list: PdfObject[]) =>
      list.filter((item) => item instanceof PdfRef).map((item) => (item as PdfRef).num);
    const oldNums = new Set(nums(oldList));
    const newNums = new Set(nums(newList));
    const problems: string[] = [];
    for (const num of oldNums) if (!newNums.has(num)) problems.push(`field ${num} removed`);
    for (const num of newNums) {
      if (oldNums.has(num)) continue;
      const role = this.afterRoles.roles.get(num);
      const dict = await this.after.resolveDict(new PdfRef(num, 0));
      if (role?.fieldType !== "Sig") problems.push(`form field ${num} added`);
      else if (!this.fillAllowed && !(await this.isTimestampField(dict)))
        problems.push(`signature field ${num} added (${this.rules})`);
    }
    return problems.length === 0
      ? say(true, "/AcroForm fields: only signature fields added")
      : say(false, problems.join("; "));
  }
}

/**
 * Compares the document as signed with every later revision, one revision with the next, and judges
 * each added, changed or removed object under `policy` (pyHanko's diff analysis, EU DSS's object
 * modification detection). Objects are compared by value, so rewriting an object stream to swap a
 * member, pointing the xref at older bytes, or defining an object the signed revision referred to
 * without defining, are all seen.
 */
export async function analyseLaterRevisions(
  signedLength: number,
  policy: ModificationPolicy,
  revisions: RevisionChain,
): Promise<ModificationReport> {
  const changes: DocumentChange[] = [];
  const lengths = [signedLength, ...(await revisions.endsAfter(signedLength))];
  const signedText = new SignedText(await revisions.open(signedLength), revisions.password);
  for (let i = 1; i < lengths.length; i++) {
    const before = await revisions.open(lengths[i - 1]!);
    const after = await revisions.open(lengths[i]!);
    const roles = [await rolesOf(before), await rolesOf(after)] as const;
    const diff = new RevisionDiff(before, after, ...roles, policy, signedText);
    changes.push(...(await diff.changes()));
  }
  const modifications: Modifications =
    changes.length === 0 ? "none" : changes.every((change) => change.allowed) ? "allowed" : "disallowed";
  return { modifications, changes };
}

/** The revisions of one file, opened once each and shared by every signature's analysis. */
export class RevisionChain {
  private readonly opened = new Map<number, Promise<PdfDocument>>();
  private ends: Promise<number[]> | undefined;
  constructor(
    private readonly full: PdfDocument,
    /** How the file was opened (an encrypted file's password): every revision opens the same way. */
    private readonly options: OpenOptions = {},
  ) {}

  get password(): string | undefined {
    return this.options.password;
  }

  open(length: number): Promise<PdfDocument> {
    if (length === this.full.source.size) return Promise.resolve(this.full);
    let doc = this.opened.get(length);
    if (!doc) {
      doc = openRevision(this.full.source, length, this.options);
      this.opened.set(length, doc);
    }
    return doc;
  }

  async endsAfter(length: number): Promise<number[]> {
    this.ends ??= revisionEnds(this.full.source, this.options);
    return (await this.ends).filter((end) => end > length);
  }
}
