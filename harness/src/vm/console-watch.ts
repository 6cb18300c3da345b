// Reads the serial console as it streams: appends it to console.log, splits lines,
// and turns them into events (a wanted line, a badness hit) that waits race against.
import { createWriteStream, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { CONSOLE_PATTERNS, matchLine, PROMPT_SETTLE_MS, promptGaveWay, stripAnsi, excerpt, type ConsoleHit } from './console-patterns.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';

export class ConsoleWatch extends EventEmitter {
  readonly lines: string[] = [];
  readonly hits: ConsoleHit[] = [];
  private partial = '';
  private out: WriteStream;
  private ended = false;
  /** The pending partial line already produced a hit; its completed line must not count twice. */
  private partialHit = false;

  /** A blocking prompt seen and not yet given way to: it becomes fatal when the settle deadline passes first. */
  private pendingPrompt: { hit: ConsoleHit; gaveWay: () => void } | undefined;

  constructor(readonly logPath: string, private warnOnly: ReadonlySet<string> = new Set(), private promptSettleMs = PROMPT_SETTLE_MS) {
    super();
    this.out = createWriteStream(logPath, { flags: 'a', mode: 0o644 });
  }

  attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => this.feed(chunk.toString('utf8')));
    stream.on('end', () => this.flush());
  }

  /** When the guest last wrote anything (ms since the epoch); the watch's start before that. */
  lastOutputAt = Date.now();
  /** When the first kernel log line ("[    0.000000] ...") arrived: the end of the firmware's part. */
  kernelAt: number | undefined;

  feed(text: string): void {
    this.lastOutputAt = Date.now();
    this.emit('output');
    this.out.write(text);
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const raw of parts) this.onLine(raw);
    // A prompt has no newline (a passphrase prompt, "login: "): check the pending
    // line too, without consuming it, and judge it once.
    if (this.partial) {
      const line = stripAnsi(this.partial);
      if (!this.partialHit) {
        // Only prompts: any other line is judged once complete, so its hit quotes all of it.
        const hit = matchLine(line, this.lines.length + 1, this.warnOnly, true);
        if (hit) {
          this.partialHit = true;
          this.record(hit);
        }
      }
      this.emit('partial', line);
    }
  }

  private record(hit: ConsoleHit): void {
    if (hit.fatal && CONSOLE_PATTERNS.find((p) => p.id === hit.id)?.givesWay) return this.holdPrompt(hit);
    this.hits.push(hit);
    this.emit('hit', hit);
    if (hit.fatal) this.emit('fatal', hit);
  }

  /**
   * A prompt that blocks the boot until someone answers: fatal once the boot has stayed at it for
   * the settle deadline (a prompt waiting for a key may end without a newline: the partial line
   * counts), unless a line first shows the boot moved on (promptGaveWay).
   */
  private holdPrompt(hit: ConsoleHit): void {
    if (this.pendingPrompt) return;
    const gaveWay = new Promise<void>((resolve) => (this.pendingPrompt = { hit, gaveWay: resolve }));
    withDeadline(gaveWay, this.promptSettleMs, `console: ${hit.id}`).then(
      () => undefined,
      (e) => {
        if (!(e instanceof DeadlineExceeded) || this.pendingPrompt?.hit !== hit) return;
        this.pendingPrompt = undefined;
        this.hits.push(hit);
        this.emit('hit', hit);
        this.emit('fatal', hit);
      },
    );
  }

  private onLine(raw: string): void {
    const line = stripAnsi(raw);
    this.lines.push(line);
    const pending = this.pendingPrompt;
    if (pending && promptGaveWay(CONSOLE_PATTERNS.find((p) => p.id === pending.hit.id)!, line)) {
      // Answered (or switched off): the boot went on, so the prompt is no failure; kept as a warning.
      this.pendingPrompt = undefined;
      pending.gaveWay();
      const answered = { ...pending.hit, fatal: false };
      this.hits.push(answered);
      this.emit('hit', answered);
    }
    if (this.kernelAt === undefined && /^\[\s*\d+\.\d+\] /.test(line)) this.kernelAt = Date.now();
    const judged = this.partialHit;
    this.partialHit = false;
    if (!judged) {
      const hit = matchLine(line, this.lines.length, this.warnOnly);
      if (hit) this.record(hit);
    }
    this.emit('line', line);
  }

  flush(): void {
    if (this.partial) this.onLine(this.partial);
    this.partial = '';
  }

  /** Resolves with the first line (or prompt) matching `re`; use with withDeadline. */
  waitFor(re: RegExp): Promise<string> {
    const seen = this.lines.find((l) => re.test(l)) ?? (this.partial && re.test(stripAnsi(this.partial)) ? stripAnsi(this.partial) : undefined);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const check = (l: string) => {
        if (!re.test(l)) return;
        this.off('line', check);
        this.off('partial', check);
        resolve(l);
      };
      this.on('line', check);
      this.on('partial', check);
    });
  }

  /** Rejects with the hit when a fatal pattern appears (already seen ones count). */
  fatal(): Promise<never> {
    const seen = this.hits.find((h) => h.fatal);
    return new Promise((_, reject) => {
      if (seen) return reject(seen);
      this.once('fatal', (hit: ConsoleHit) => reject(hit));
    });
  }

  context(hit: ConsoleHit): string {
    return excerpt(this.lines, hit.lineNo);
  }

  /** The last thing the guest wrote, complete line or not. */
  lastLine(): string {
    return this.partial ? stripAnsi(this.partial) : (this.lines.at(-1) ?? '');
  }

  tail(n = 40): string {
    return [...this.lines.slice(-n), ...(this.partial ? [stripAnsi(this.partial)] : [])].join('\n');
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
