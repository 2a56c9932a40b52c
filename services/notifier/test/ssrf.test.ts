import { describe, expect, it } from "vitest";
import { deadlineIn } from "../src/deadline";
import { postToDestination } from "../src/http";
import { DestinationGuard } from "../src/index";
import { startReceiver } from "./harness";

const noAllowList = { allowHosts: [], allowCidrs: [] };

async function refusal(guard: DestinationGuard, url: string): Promise<string | undefined> {
  try {
    await guard.check(url);
    return undefined;
  } catch (error) {
    expect(error).toMatchObject({ code: "E_FORBIDDEN", permanent: true });
    return (error as Error).message;
  }
}

describe("DestinationGuard", () => {
  const guard = new DestinationGuard(noAllowList);

  it.each([
    ["http://127.0.0.1/", /loopback/],
    ["http://[::1]/", /loopback/],
    ["http://0.0.0.0/", /unspecified/],
    ["http://[::]/", /unspecified/],
    ["http://10.1.2.3/", /private/],
    ["http://172.20.0.1/", /private/],
    ["http://192.168.1.1/", /private/],
    ["http://[fd12:3456::1]/", /private/],
    ["http://169.254.1.1/", /link-local/],
    ["http://[fe80::1]/", /link-local/],
    ["http://100.64.0.1/", /carrier-grade NAT/],
    ["http://224.0.0.1/", /multicast/],
    ["http://[ff02::1]/", /multicast/],
    ["http://169.254.169.254/", /^ssrf: 169.254.169.254 is a cloud metadata address$/],
    ["http://metadata.google.internal./", /metadata.google.internal is a cloud metadata host/],
    ["http://[fd00:ec2::254]/", /cloud metadata/],
    ["http://[::ffff:169.254.169.254]/", /cloud metadata/],
    ["http://[64:ff9b::a9fe:a9fe]/", /cloud metadata/],
    ["http://[2002:0a00:0001::1]/", /private/],
    ["http://0x7f.1/", /loopback/],
    // IPv6 forms that carry an IPv4 address, and special-purpose ranges a public receiver never has.
    ["http://[::127.0.0.1]/", /IPv4-compatible/],
    ["http://[::a9fe:a9fe]/", /IPv4-compatible/],
    ["http://[::8.8.8.8]/", /IPv4-compatible/],
    ["http://[::ffff:127.0.0.1]/", /loopback/],
    ["http://[::ffff:7f00:1]/", /loopback/],
    ["http://[::ffff:10.0.0.1]/", /private/],
    ["http://[::ffff:0:10.0.0.1]/", /translated IPv4/],
    ["http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", /Teredo/],
    ["http://[2001::1]/", /Teredo/],
    ["http://[100::1]/", /discard-only/],
    ["http://[2002:7f00:1::1]/", /loopback/],
    ["http://[2002:a9fe:a9fe::1]/", /cloud metadata/],
    ["http://[64:ff9b::10.0.0.1]/", /private/],
    ["http://[64:ff9b::127.0.0.1]/", /loopback/],
    ["http://[64:ff9b:1::1]/", /local-use NAT64/],
    ["http://192.0.2.10/", /documentation/],
    ["http://198.51.100.7/", /documentation/],
    ["http://203.0.113.250/", /documentation/],
    ["http://[2001:db8::1]/", /documentation/],
    ["http://[2001:2::1]/", /benchmarking/],
    ["http://[2001:100::1]/", /protocol assignment/],
    ["http://[3fff::1]/", /documentation/],
    ["http://0.1.2.3/", /unspecified/],
    ["http://100.127.255.254/", /carrier-grade NAT/],
    ["http://169.254.0.1/", /link-local/],
    ["http://198.18.0.1/", /benchmarking/],
    ["http://198.19.255.1/", /benchmarking/],
    ["http://240.0.0.1/", /reserved/],
    ["http://255.255.255.255/", /reserved/],
    ["http://239.255.255.250/", /multicast/],
    ["http://[fc00::1]/", /private/],
    ["http://[febf::1]/", /link-local/],
    ["http://192.0.0.8/", /protocol assignment/],
    ["http://192.88.99.1/", /6to4 relay/],
    ["http://[2001:10::1]/", /ORCHID/],
    ["http://[2001:20::1]/", /ORCHID/],
    ["ftp://example.com/", /scheme ftp: is not allowed/],
    ["not a url", /not a valid URL/],
  ])("refuses %s", async (url, reason) => {
    expect(await refusal(guard, url)).toMatch(reason);
  });

  it.each([
    "http://93.184.216.34/hook",
    "https://[2606:4700::1111]/hook",
    "http://[64:ff9b::5db8:d822]/",
    "http://[::ffff:93.184.216.34]/",
    "http://[2002:5db8:d822::1]/",
    "http://[2001:4860::8888]/",
    "http://100.128.0.1/",
    "http://198.20.0.1/",
  ])("accepts the public address %s", async (url) => {
    const destination = await guard.check(url);
    expect(destination.addresses).toHaveLength(1);
  });

  it("refuses a host when any of its addresses is internal (DNS answers mixing public and private)", async () => {
    const mixedAnswers = new DestinationGuard(noAllowList, async () => [
      { address: "93.184.216.34", family: 4 },
      { address: "10.0.0.5", family: 4 },
    ]);
    expect(await refusal(mixedAnswers, "https://hooks.example.com/x")).toMatch(
      /hooks.example.com resolves to 10.0.0.5, a private address/,
    );
  });

  it("lets allowCidrs open a range but not the metadata address inside it, unless listed exactly", async () => {
    const broad = new DestinationGuard({ allowHosts: [], allowCidrs: ["169.254.0.0/16", "10.0.0.0/8"] });
    expect((await broad.check("http://10.9.9.9/")).addresses[0]!.address).toBe("10.9.9.9");
    expect(await broad.check("http://169.254.1.1/")).toMatchObject({ port: 80 });
    expect(await refusal(broad, "http://169.254.169.254/")).toMatch(/cloud metadata/);

    const exact = new DestinationGuard({ allowHosts: [], allowCidrs: ["169.254.169.254/32"] });
    expect(await exact.check("http://169.254.169.254/")).toMatchObject({ hostname: "169.254.169.254" });
  });

  it("lets allowHosts (exact or *.suffix) reach internal addresses", async () => {
    const resolvesPrivate = async () => [{ address: "10.20.30.40", family: 4 as const }];
    const allowed = new DestinationGuard(
      { allowHosts: ["*.corp.example", "erp.local"], allowCidrs: [] },
      resolvesPrivate,
    );
    expect(await allowed.check("https://hooks.corp.example/esign")).toMatchObject({ port: 443 });
    expect(await allowed.check("http://ERP.local:8080/esign")).toMatchObject({ port: 8080 });
    expect(await refusal(allowed, "https://corp.example.evil.test/")).toMatch(/private address/);
  });
});

it("stops waiting for a hung resolver at the attempt's deadline", async () => {
  const hungResolver = () => new Promise<never>(() => {});
  const guard = new DestinationGuard(noAllowList, hungResolver);
  await expect(guard.check("https://hooks.example.com/", deadlineIn(100))).rejects.toMatchObject({
    code: "E_WEBHOOK",
    permanent: false,
    message: "resolving hooks.example.com: no answer within 100 ms",
  });
});

describe("postToDestination", () => {
  it("connects to the checked address, not to whatever the host name resolves to now", async () => {
    const receiver = await startReceiver(() => ({ status: 202 }));
    try {
      // "rebound.invalid" cannot resolve: the request only arrives if the pinned address is used.
      const url = new URL(`http://hook%40user:p%3Ass@rebound.invalid:${receiver.port}/hook?x=1`);
      const destination = {
        url,
        hostname: "rebound.invalid",
        port: receiver.port,
        addresses: [{ address: "127.0.0.1", family: 4 as const }],
      };
      const answer = await postToDestination(
        destination,
        { "content-type": "application/json" },
        "{}",
        deadlineIn(5_000),
      );
      expect(answer.status).toBe(202);
      expect(receiver.requests[0]!.headers.host).toBe(`rebound.invalid:${receiver.port}`);
      expect(receiver.requests[0]!.body).toBe("{}");
      const basic = Buffer.from("hook@user:p:ss").toString("base64");
      expect(receiver.requests[0]!.headers.authorization).toBe(`Basic ${basic}`);
    } finally {
      await receiver.close();
    }
  });
});
