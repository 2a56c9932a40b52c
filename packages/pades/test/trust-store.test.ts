import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTrustStore, trustedListCertificates } from "../src";
import { issueCertificate, toPem } from "../src/testing";
import { scratchDirectory } from "./helpers";

const directory = await scratchDirectory();
const qualifiedCa = await issueCertificate({ subject: "CN=Qualified CA,O=esign-agent tests", ca: true });
const withdrawnCa = await issueCertificate({ subject: "CN=Withdrawn CA,O=esign-agent tests", ca: true });
const otherRoot = await issueCertificate({ subject: "CN=Other Root,O=esign-agent tests", ca: true });

function service(type: string, status: string, certificate: Uint8Array): string {
  return `<tsl:TSPService><tsl:ServiceInformation>
    <tsl:ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/${type}</tsl:ServiceTypeIdentifier>
    <tsl:ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/${status}</tsl:ServiceStatus>
    <tsl:ServiceDigitalIdentity><tsl:DigitalId><tsl:X509Certificate>
${Buffer.from(certificate).toString("base64").replace(/.{64}/g, "$&\n")}
    </tsl:X509Certificate></tsl:DigitalId></tsl:ServiceDigitalIdentity>
  </tsl:ServiceInformation></tsl:TSPService>`;
}

/** A TS 119 612 trusted list reduced to what the loader reads. */
const trustedList = `<?xml version="1.0" encoding="UTF-8"?>
<tsl:TrustServiceStatusList xmlns:tsl="http://uri.etsi.org/02231/v2#"><tsl:TrustServiceProviderList>
<tsl:TrustServiceProvider><tsl:TSPServices>
${service("CA/QC", "granted", qualifiedCa.certificate)}
${service("CA/QC", "withdrawn", withdrawnCa.certificate)}
${service("EDS/Q", "granted", otherRoot.certificate)}
</tsl:TSPServices></tsl:TrustServiceProvider>
</tsl:TrustServiceProviderList></tsl:TrustServiceStatusList>`;

const hex = (items: Uint8Array[]) => items.map((item) => Buffer.from(item).toString("hex"));

describe("trust stores", () => {
  it("takes from a trusted list only CA and TSA services with a trusted status", () => {
    expect(hex(trustedListCertificates(trustedList))).toEqual(hex([qualifiedCa.certificate]));
  });

  it("loads PEM bundles, DER files, trusted lists and folders of them, and refuses a path with none", async () => {
    const folder = join(directory, "anchors");
    await mkdir(folder);
    await writeFile(
      join(folder, "bundle.pem"),
      toPem(otherRoot.certificate) + toPem(withdrawnCa.certificate),
    );
    await writeFile(join(folder, "qualified.cer"), qualifiedCa.certificate);
    await writeFile(join(directory, "tl.xml"), trustedList);
    await writeFile(join(directory, "empty.txt"), "nothing here");

    expect(hex(await loadTrustStore([folder]))).toEqual(
      hex([otherRoot.certificate, withdrawnCa.certificate, qualifiedCa.certificate]),
    );
    expect(hex(await loadTrustStore([join(directory, "tl.xml")]))).toEqual(hex([qualifiedCa.certificate]));
    await expect(loadTrustStore([join(directory, "empty.txt")])).rejects.toMatchObject({ code: "E_CERT" });
  });
});
