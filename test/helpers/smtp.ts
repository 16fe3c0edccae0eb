import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server on loopback (the smtp-server package) keeping every message it accepted, parsed. */
export class SmtpSink {
  readonly mails: ParsedMail[] = [];
  /** Set to make the server refuse recipients with this SMTP reply, e.g. { code: 550, message: 'no such user' }. */
  refuse: { code: number; message: string } | undefined;
  /** Set to keep messages in flight: each waits for this before it is accepted (a slow server, a send to race). */
  hold: Promise<void> | undefined;
  private server: SMTPServer | undefined;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (auth, _s, cb) => cb(null, { user: auth.username }),
      onRcptTo: (_a, _s, cb) => {
        if (!this.refuse) return cb();
        const err = new Error(this.refuse.message) as Error & { responseCode: number };
        err.responseCode = this.refuse.code;
        cb(err);
      },
      onData: (stream, _s, cb) => {
        simpleParser(stream).then(
          async (m) => {
            await this.hold;
            this.mails.push(m);
            cb();
          },
          (err: Error) => cb(err),
        );
      },
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.server.address() as { port: number }).port;
  }

  get url(): string {
    return `smtp://qoswatch:smtp-pass-123456@127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
