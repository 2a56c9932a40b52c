import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string[];
  raw: string;
}

export interface Mailbox {
  /** `SMTP_URL` for the agent. */
  url: string;
  /** Every mail received so far, in order. */
  mails: ReceivedMail[];
  /**
   * The first mail to `address` among those received after the first `after`, whose text matches
   * `subject`, waiting up to 30 s for it; its body with quoted-printable soft breaks undone.
   */
  mailTo(address: string, subject: RegExp, after?: number): Promise<string>;
  close(): Promise<void>;
}

/** Mail bodies may be quoted-printable: soft line breaks and `=3D` undone before searching. */
const plain = (raw: string) => raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");

/** A real SMTP server (npm `smtp-server`) on a free port of 127.0.0.1 that keeps what it receives. */
export async function startMailbox(): Promise<Mailbox> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, session, done) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
      stream.on("end", () => {
        mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async mailTo(address, subject, after = 0) {
      for (let i = 0; i < 300; i++) {
        const found = mails
          .slice(after)
          .find((mail) => mail.to.includes(address) && subject.test(plain(mail.raw)));
        if (found) return plain(found.raw);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no mail to ${address} matching ${subject}; got ${mails.length} mails`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
