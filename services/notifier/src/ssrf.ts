import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { EsignError } from "@esign/errors";
import { blockListOf, type IpFamily, parseCidr } from "./cidr";
import { beforeDeadline, type Deadline } from "./deadline";

export interface DestinationPolicy {
  /** Host names exempt from the private-range checks; `*.corp.example` matches subdomains. */
  allowHosts: readonly string[];
  /** Address ranges exempt from the private-range checks. */
  allowCidrs: readonly string[];
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** A checked destination: connect to `addresses` (never re-resolve `hostname`). */
export interface Destination {
  url: URL;
  /** Host name without IPv6 brackets; still used for the Host header and TLS SNI/verification. */
  hostname: string;
  port: number;
  addresses: ResolvedAddress[];
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const rangesBy = (reason: string, cidrs: string[]) => ({
  reason,
  ranges: blockListOf(cidrs.map((cidr) => parseCidr(cidr)!)),
});

// Checked first and not unlocked by a broad allow-listed range: a careless `169.254.0.0/16`
// must not expose instance credentials. Only an allow-list entry for the exact address does.
const CLOUD_METADATA = rangesBy("cloud metadata address", [
  "169.254.169.254",
  "169.254.170.2",
  "100.100.100.200",
  "fd00:ec2::254",
]);
const CLOUD_METADATA_HOSTS = new Set([
  "metadata.google.internal",
  "metadata.goog",
  "instance-data.ec2.internal",
]);

// IANA's special-purpose registries (RFC 6890 and later): none of these is a public receiver.
// First match names the reason, so the narrower ranges come before the ones that contain them.
const DENIED = [
  rangesBy("unspecified address", ["0.0.0.0/8", "::/128"]),
  rangesBy("loopback address", ["127.0.0.0/8", "::1/128"]),
  rangesBy("private address", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"]),
  rangesBy("link-local address", ["169.254.0.0/16", "fe80::/10"]),
  rangesBy("carrier-grade NAT address", ["100.64.0.0/10"]),
  rangesBy("multicast address", ["224.0.0.0/4", "ff00::/8"]),
  rangesBy("documentation address", [
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "2001:db8::/32",
    "3fff::/20",
  ]),
  rangesBy("benchmarking address", ["198.18.0.0/15", "2001:2::/48"]),
  rangesBy("6to4 relay anycast address", ["192.88.99.0/24"]),
  rangesBy("protocol assignment address", ["192.0.0.0/24"]),
  rangesBy("reserved address", ["240.0.0.0/4"]),
  // IPv6 forms a gateway or host may turn into an IPv4 address we cannot see here.
  rangesBy("deprecated IPv4-compatible address (reaches the IPv4 address it carries)", ["::/96"]),
  rangesBy("translated IPv4 address", ["::ffff:0:0:0/96"]),
  rangesBy("local-use NAT64 address", ["64:ff9b:1::/48"]),
  rangesBy("Teredo address (tunnels to an IPv4 address)", ["2001::/32"]),
  rangesBy("hash identifier (ORCHID) address", ["2001:10::/28", "2001:20::/28"]),
  rangesBy("protocol assignment address", ["2001::/23"]),
  rangesBy("discard-only address", ["100::/64"]),
];

/**
 * The SSRF guard: resolves the URL's host once and refuses destinations inside the operator's
 * own infrastructure unless allow-listed. The caller must connect to the returned addresses,
 * so a second DNS answer (rebinding) cannot redirect the request.
 */
export class DestinationGuard {
  readonly #allowHosts: readonly string[];
  readonly #allowed;
  readonly #exactlyAllowed;

  constructor(
    policy: DestinationPolicy,
    private readonly resolve: Resolver = resolveAll,
  ) {
    this.#allowHosts = policy.allowHosts.map((host) => host.toLowerCase());
    const cidrs = policy.allowCidrs.map((text) => {
      const cidr = parseCidr(text);
      if (cidr === undefined) throw new EsignError("E_CONFIG", `invalid allow-listed CIDR ${text}`);
      return cidr;
    });
    this.#allowed = blockListOf(cidrs);
    this.#exactlyAllowed = blockListOf(
      cidrs.filter(({ prefix, family }) => prefix === (family === "ipv4" ? 32 : 128)),
    );
  }

  async check(rawUrl: string, deadline?: Deadline): Promise<Destination> {
    const url = parseHttpUrl(rawUrl);
    // Brackets off IPv6 literals, and the root label's dot off FQDNs ("metadata.google.internal.").
    const hostname = url.hostname
      .replace(/^\[(.*)\]$/, "$1")
      .replace(/\.$/, "")
      .toLowerCase();
    const hostAllowed = this.#allowHosts.some((pattern) => hostMatches(hostname, pattern));
    if (CLOUD_METADATA_HOSTS.has(hostname) && !this.#allowHosts.includes(hostname)) {
      throw forbidden(`${hostname} is a cloud metadata host`);
    }
    const literalFamily = isIP(hostname);
    const addresses =
      literalFamily === 0
        ? await this.#resolve(hostname, deadline)
        : [{ address: hostname, family: literalFamily as 4 | 6 }];
    // Every answer must pass: a resolver that mixes a public and a private address must not win.
    for (const { address, family } of addresses) {
      const reason = this.#refusal(address, family === 4 ? "ipv4" : "ipv6", hostAllowed);
      if (reason === undefined) continue;
      throw forbidden(
        literalFamily === 0 ? `${hostname} resolves to ${address}, a ${reason}` : `${address} is a ${reason}`,
      );
    }
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    return { url, hostname, port, addresses };
  }

  async #resolve(hostname: string, deadline: Deadline | undefined): Promise<ResolvedAddress[]> {
    const resolving = this.resolve(hostname);
    const addresses = await (deadline === undefined
      ? resolving
      : beforeDeadline(resolving, deadline, `resolving ${hostname}`));
    if (addresses.length === 0) throw new EsignError("E_WEBHOOK", `${hostname} resolved to no address`);
    return addresses;
  }

  #refusal(address: string, family: IpFamily, hostAllowed: boolean): string | undefined {
    const embeddedIpv4 = family === "ipv6" ? ipv4EmbeddedIn(address) : undefined;
    if (embeddedIpv4 !== undefined) return this.#refusal(embeddedIpv4, "ipv4", hostAllowed);
    if (CLOUD_METADATA.ranges.check(address, family) && !this.#exactlyAllowed.check(address, family)) {
      return CLOUD_METADATA.reason;
    }
    if (hostAllowed || this.#allowed.check(address, family)) return undefined;
    return DENIED.find(({ ranges }) => ranges.check(address, family))?.reason;
  }
}

function parseHttpUrl(rawUrl: string): URL {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw forbidden("the webhook URL is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw forbidden(`scheme ${url.protocol} is not allowed, only http and https`);
  }
  return url;
}

function hostMatches(hostname: string, pattern: string): boolean {
  return pattern.startsWith("*.") ? hostname.endsWith(pattern.slice(1)) : hostname === pattern;
}

function forbidden(reason: string): EsignError {
  return new EsignError("E_FORBIDDEN", `ssrf: ${reason}`);
}

async function resolveAll(hostname: string): Promise<ResolvedAddress[]> {
  try {
    const answers = await lookup(hostname, { all: true, verbatim: true });
    return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
  } catch (cause) {
    // NXDOMAIN during a receiver's DNS change is common and heals: retry like a connection error.
    throw new EsignError("E_WEBHOOK", `cannot resolve ${hostname}`, { cause });
  }
}

/**
 * IPv4 address carried inside an IPv6 one by NAT64 (64:ff9b::/96) or 6to4 (2002::/16), which a
 * gateway turns back into IPv4 (`64:ff9b::a9fe:a9fe` reaches 169.254.169.254), or by an
 * IPv4-mapped address (::ffff:0:0/96), which the host's own stack sends over IPv4: each is judged
 * as the IPv4 address it reaches, allow-lists included. (IPv4-compatible ::/96, Teredo and the
 * translated form are refused whole in DENIED.)
 */
function ipv4EmbeddedIn(address: string): string | undefined {
  const hextets = expandIpv6(address);
  if (hextets === undefined) return undefined;
  const isNat64 = hextets[0] === 0x64 && hextets[1] === 0xff9b && hextets.slice(2, 6).every((h) => h === 0);
  const isMapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
  if (isNat64 || isMapped) return ipv4Of(hextets[6]!, hextets[7]!);
  if (hextets[0] === 0x2002) return ipv4Of(hextets[1]!, hextets[2]!);
  return undefined;
}

function ipv4Of(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

function expandIpv6(address: string): number[] | undefined {
  let text = address.split("%")[0]!;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => Number.parseInt(h, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  const zeros = tail === undefined ? 0 : 8 - front.length - back.length;
  const hextets = [...front, ...new Array<number>(zeros).fill(0), ...back];
  return hextets.length === 8 && hextets.every((h) => Number.isInteger(h)) ? hextets : undefined;
}
