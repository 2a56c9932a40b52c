import { EsignError } from "@esign/errors";
import { CLOSED_STATUSES, type ContractRecord, type SignatureEvidence, type SignerRecord } from "./model";

/** Failed OTP / code / PIN attempts a signer has before being locked. */
export const MAX_AUTH_ATTEMPTS = 5;

export function isClosed(contract: ContractRecord): boolean {
  return CLOSED_STATUSES.includes(contract.status);
}

export function signerOf(contract: ContractRecord, signerId: string): SignerRecord {
  const signer = contract.signers.find((candidate) => candidate.id === signerId);
  if (!signer) throw new EsignError("E_NOT_FOUND", `contract ${contract.id} has no signer ${signerId}`);
  return signer;
}

/**
 * Where a signer's visible approval signature goes, as the worker places it and the signer page
 * shows it: a row of boxes at the foot of the last page, one per signer in the contract's order,
 * in PDF points on the page as the reader sees it ([x1, y1, x2, y2], origin bottom-left).
 */
export interface SignaturePlacement {
  page: "last";
  rect: [number, number, number, number];
}

export function signaturePlacement(contract: ContractRecord, signer: SignerRecord): SignaturePlacement {
  const index = contract.signers.indexOf(signer);
  if (index < 0) throw new EsignError("E_NOT_FOUND", `contract ${contract.id} has no signer ${signer.id}`);
  const x = 36 + (index % 3) * 180;
  const y = 36 + Math.floor(index / 3) * 80;
  return { page: "last", rect: [x, y, x + 170, y + 70] };
}

/** The lowest order number with a signer who has not signed; undefined when everyone has. */
export function currentOrder(contract: ContractRecord): number | undefined {
  const open = contract.signers.filter((signer) => signer.status !== "signed").map((signer) => signer.order);
  return open.length === 0 ? undefined : Math.min(...open);
}

/** Signers of the current order who were waiting become `pending`; answers those who just did. */
export function advanceTurn(contract: ContractRecord): SignerRecord[] {
  const order = currentOrder(contract);
  const invited: SignerRecord[] = [];
  for (const signer of contract.signers) {
    if (signer.order === order && signer.status === "waiting") {
      signer.status = "pending";
      invited.push(signer);
    }
  }
  return invited;
}

export function assertOpen(contract: ContractRecord): void {
  if (isClosed(contract)) {
    throw new EsignError("E_CONTRACT_CLOSED", `contract ${contract.id} is ${contract.status}`);
  }
}

/** A signer link works while the contract is in progress: not before it is sent, not once it is closed. */
export function assertLinkUsable(contract: ContractRecord): void {
  if (contract.status === "draft") {
    throw new EsignError(
      "E_CONTRACT_NOT_SENT",
      `contract ${contract.id} has not been sent yet; you will get an e-mail when it is`,
    );
  }
  assertOpen(contract);
}

/**
 * A draft goes out: the first signers get their turn. False when it had been sent already (a
 * repeated send); E_CONTRACT_CLOSED once closed.
 */
export function sendDraft(contract: ContractRecord, now: string): boolean {
  assertOpen(contract);
  if (contract.status !== "draft") return false;
  contract.status = "in_progress";
  contract.updatedAt = now;
  advanceTurn(contract);
  return true;
}

/**
 * Whether `signer` may act now (challenge, sign, decline): the contract open, the signer neither
 * locked nor done, and their order number come.
 */
export function assertMayAct(contract: ContractRecord, signer: SignerRecord): void {
  assertLinkUsable(contract);
  if (signer.status === "locked") {
    throw new EsignError("E_LOCKED", "too many failed attempts: this signer is locked; ask the sender");
  }
  if (signer.status === "waiting") {
    throw new EsignError("E_NOT_YOUR_TURN", "earlier signers have not signed yet; you will get an e-mail");
  }
  if (signer.status === "signed" || signer.status === "declined") {
    throw new EsignError("E_CONTRACT_CLOSED", `you have already ${signer.status}`);
  }
}

/**
 * Counts one failed authentication; the fifth locks the signer. Answers whether this one locked it.
 */
export function recordFailedAttempt(signer: SignerRecord): boolean {
  signer.failedAttempts += 1;
  if (signer.failedAttempts >= MAX_AUTH_ATTEMPTS && signer.status !== "locked") {
    signer.status = "locked";
    return true;
  }
  return false;
}

/**
 * Authenticated: the signature job `signAttempt` may run. False when the signer was already
 * signing (a second click joins the attempt under way).
 */
export function startSigning(
  contract: ContractRecord,
  signer: SignerRecord,
  request: { ip?: string; userAgent?: string },
): boolean {
  assertMayAct(contract, signer);
  if (signer.status === "signing") return false;
  signer.status = "signing";
  signer.signAttempt += 1;
  signer.ip = request.ip;
  signer.userAgent = request.userAgent;
  return true;
}

/** The signing service refused the signer's PIN or OTP: back to their turn, the attempt counted. */
export function signingRefused(signer: SignerRecord): boolean {
  if (signer.status === "signing") signer.status = "pending";
  return recordFailedAttempt(signer);
}

/**
 * Records a signature: the next order number's signers get their turn, and with everyone signed
 * the contract is complete, unless the seal is still to come.
 */
export function recordSignature(
  contract: ContractRecord,
  signer: SignerRecord,
  evidence: SignatureEvidence,
  version: { ref: ContractRecord["current"]; sha256: string },
  now: string,
): void {
  signer.status = "signed";
  signer.signature = evidence;
  contract.current = version.ref;
  contract.currentSha256 = version.sha256;
  contract.revisions += 1;
  contract.updatedAt = now;
  advanceTurn(contract);
  if (currentOrder(contract) === undefined && !contract.sealLevel) close(contract, "completed", now);
}

/** Everyone has signed and the seal is owed. */
export function sealDue(contract: ContractRecord): boolean {
  return (
    !isClosed(contract) && currentOrder(contract) === undefined && !!contract.sealLevel && !contract.sealed
  );
}

export function recordSeal(
  contract: ContractRecord,
  seal: NonNullable<ContractRecord["sealed"]>,
  version: { ref: ContractRecord["current"]; sha256: string },
  now: string,
): void {
  contract.sealed = seal;
  contract.current = version.ref;
  contract.currentSha256 = version.sha256;
  contract.revisions += 1;
  close(contract, "completed", now);
}

export function decline(contract: ContractRecord, signer: SignerRecord, reason: string, now: string): void {
  assertMayAct(contract, signer);
  if (signer.status === "signing") {
    throw new EsignError("E_CONTRACT_CLOSED", "your signature is being applied; it cannot be declined now");
  }
  signer.status = "declined";
  signer.declineReason = reason;
  close(contract, "declined", now);
}

export function voidContract(contract: ContractRecord, reason: string | undefined, now: string): void {
  assertOpen(contract);
  contract.voidReason = reason;
  close(contract, "voided", now);
}

/** Expires an open contract whose time has come; false when it is closed or not due. */
export function expireIfDue(contract: ContractRecord, now: string): boolean {
  if (isClosed(contract) || !contract.expiresAt || Date.parse(contract.expiresAt) > Date.parse(now))
    return false;
  close(contract, "expired", now);
  return true;
}

function close(contract: ContractRecord, status: ContractRecord["status"], now: string): void {
  contract.status = status;
  contract.closedAt = now;
  contract.updatedAt = now;
}

/** Where version `revision` of the contract's PDF goes: next to the original, one object per signature. */
/** Where a signer's signature image is kept: beside the contract's documents, named by its digest. */
export function signatureImageRef(
  contract: ContractRecord,
  signerId: string,
  sha256: string,
): ContractRecord["current"] {
  const folder = contract.original.key.slice(0, contract.original.key.lastIndexOf("/") + 1);
  return { store: contract.original.store, key: `${folder}signature-${signerId}-${sha256.slice(0, 16)}.png` };
}

export function versionRef(contract: ContractRecord, revision: number): ContractRecord["current"] {
  const folder = contract.original.key.slice(0, contract.original.key.lastIndexOf("/") + 1);
  return { store: contract.original.store, key: `${folder}v${revision}.pdf` };
}
