import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import type { PkiEntity } from "./pki";
import type { RevocationRegistry } from "./revocation";

const CRL_NUMBER_OID = "2.5.29.20";
const CRL_VALIDITY_MS = 24 * 3600 * 1000;
// Reissue well before nextUpdate, so a client caching a CRL never holds an expired one for long.
const CRL_REFRESH_MS = CRL_VALIDITY_MS / 4;

interface CachedCrl {
  der: Buffer;
  version: number;
  issuedAt: number;
}

/** CRLs of one CA, reissued when the revocation state changes or the cached one ages. */
export class CrlIssuer {
  private cached: CachedCrl | undefined;
  private lastCrlNumber = 0;

  constructor(
    private readonly ca: PkiEntity,
    private readonly revocations: RevocationRegistry,
  ) {}

  async current(): Promise<Buffer> {
    const now = Date.now();
    const fresh =
      this.cached &&
      this.cached.version === this.revocations.version &&
      now - this.cached.issuedAt < CRL_REFRESH_MS;
    if (fresh) return this.cached!.der;
    const der = await this.issue(new Date(Math.floor(now / 1000) * 1000));
    this.cached = { der, version: this.revocations.version, issuedAt: now };
    return der;
  }

  private async issue(thisUpdate: Date): Promise<Buffer> {
    // Milliseconds since the epoch: increases across restarts as CRL numbers must (RFC 5280 5.2.3).
    this.lastCrlNumber = Math.max(this.lastCrlNumber + 1, Date.now());
    const crlNumber = new asn1js.Integer({ value: this.lastCrlNumber }).toBER();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.ca.certificate.subject,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + CRL_VALIDITY_MS),
      signingKey: this.ca.key.signingKey,
      signingAlgorithm: this.ca.key.signingAlgorithm,
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(this.ca.key.publicCryptoKey),
        new x509.Extension(CRL_NUMBER_OID, false, crlNumber),
      ],
      entries: this.revocations.byIssuer(this.ca.certificate.subject).map((entry) => ({
        serialNumber: entry.serialNumber,
        revocationDate: new Date(entry.revokedAt),
        reason: x509.X509CrlReason[entry.reason],
      })),
    });
    return Buffer.from(crl.rawData);
  }
}
