import * as x509 from "@peculiar/x509";
import { startSimulator } from "../../services/esign-sim/src/index";

const sim = await startSimulator();
const cert = new x509.X509Certificate(sim.pki.credentials.get("seal-rsa")!.der);
const aia = cert.getExtension(x509.AuthorityInfoAccessExtension)!;
console.log(
  aia.ocsp.map((g) => [g.type, g.value]),
  aia.caIssuers.map((g) => [g.type, g.value]),
);
const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!;
console.log(JSON.stringify(cdp.distributionPoints));
console.log(Object.keys(sim.pki), sim.url);
await sim.close();
