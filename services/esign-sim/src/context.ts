import type { Logger } from "pino";
import { type ClientDefinition, type ClientLimits, ClientRegistry } from "./clients";
import type { CredentialDefinition } from "./credentials";
import { CrlIssuer } from "./crl";
import { AccessTokens, OneTimePasswords, SignatureActivations } from "./csc/authorization-state";
import { type FaultConfigInput, FaultInjector } from "./faults";
import { invalidRequest } from "./http/service-error";
import { IdempotencyStore } from "./idempotency";
import { OcspResponder } from "./ocsp";
import type { Pki, PkiEntity } from "./pki";
import { RequestLog } from "./request-log";
import type { RevocationRegistry } from "./revocation";
import { TimeStampAuthority } from "./tsa";
import { UsageMeter } from "./usage";

export interface ContextSettings {
  credentials: readonly CredentialDefinition[];
  clients: readonly ClientDefinition[];
  limits: ClientLimits;
  faults: FaultConfigInput | undefined;
  adminToken: string | undefined;
  /** Host names admin requests may name in `Host` and `Origin` (adminHostNames). */
  adminHosts: ReadonlySet<string>;
  tsaPolicyOid: string;
  tsaAccuracySeconds: number;
  accessTokenLifetimeSeconds: number;
  sadLifetimeSeconds: number;
  otpLifetimeSeconds: number;
  requestLogSize: number;
  idempotencyRetentionSeconds: number;
}

/** Everything the routes share: the PKI, the services built on it, and the per-run state. */
export class SimulatorContext {
  readonly credentials: ReadonlyMap<string, CredentialDefinition>;
  readonly usage = new UsageMeter();
  readonly clients: ClientRegistry;
  readonly accessTokens: AccessTokens;
  readonly otps: OneTimePasswords;
  readonly activations: SignatureActivations;
  readonly faults: FaultInjector;
  readonly requestLog: RequestLog;
  /** Idempotency keys of billed sign calls; not cleared by a usage reset (it is not a counter). */
  readonly idempotency: IdempotencyStore;
  readonly tsa: TimeStampAuthority;
  readonly ocsp: OcspResponder;
  readonly crls: { root: CrlIssuer; issuing: CrlIssuer };

  constructor(
    readonly pki: Pki,
    readonly revocations: RevocationRegistry,
    readonly settings: ContextSettings,
    readonly log: Logger,
  ) {
    this.credentials = new Map(settings.credentials.map((credential) => [credential.id, credential]));
    this.clients = new ClientRegistry(settings.clients, settings.limits, this.usage);
    this.accessTokens = new AccessTokens(settings.accessTokenLifetimeSeconds);
    this.otps = new OneTimePasswords(settings.otpLifetimeSeconds);
    this.activations = new SignatureActivations(settings.sadLifetimeSeconds);
    this.faults = new FaultInjector(settings.faults);
    this.requestLog = new RequestLog(settings.requestLogSize);
    this.idempotency = new IdempotencyStore(settings.idempotencyRetentionSeconds * 1000);
    this.tsa = new TimeStampAuthority(pki, {
      policyOid: settings.tsaPolicyOid,
      accuracySeconds: settings.tsaAccuracySeconds,
    });
    this.ocsp = new OcspResponder(pki, revocations);
    this.crls = {
      root: new CrlIssuer(pki.root, revocations),
      issuing: new CrlIssuer(pki.issuing, revocations),
    };
  }

  credentialCertificate(credentialId: string): PkiEntity {
    return this.pki.credentials.get(credentialId)!;
  }

  isRevoked(credentialId: string): boolean {
    const certificate = this.credentialCertificate(credentialId).certificate;
    return this.revocations.find(certificate.issuer, certificate.serialNumber) !== undefined;
  }

  /** Signing and authorising with a revoked credential is refused. */
  refuseIfRevoked(credentialId: string): void {
    if (this.isRevoked(credentialId)) {
      throw invalidRequest(`The certificate of credential ${credentialId} is revoked`);
    }
  }
}
