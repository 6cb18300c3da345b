// Reads the serial console as it streams: appends it to console.log, splits lines,
// and turns them into events (a wanted line, a badness hit) that waits race against.
// The guest controls every byte of it, so the watch is bounded and linear in what it reads:
// only the new chunk is scanned for line ends, a line is cut at MAX_LINE characters, a pending
// line is judged by its last PROMPT_WINDOW characters (every prompt pattern is a short phrase
// at the end), the log file stops at MAX_LOG_BYTES and the kept lines at MAX_KEPT_CHARS, each
// cut marked.
import { createWriteStream, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { CONSOLE_PATTERNS, matchLine, PROMPT_SETTLE_MS, promptGaveWay, stripAnsi, excerpt, type ConsoleHit } from './console-patterns.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';

/** A console line longer than this is cut: the rest goes on as the next line. */
export const MAX_LINE = 8192;
/** How much of a pending (unterminated) line is judged for prompts, on every chunk. */
export const PROMPT_WINDOW = 512;
/** console.log stops growing here (a kept VM's QEMU writes it itself from then on). */
export const MAX_LOG_BYTES = 64 * 1024 * 1024;
/** Lines kept in memory (for context, tails, waits) stop here; later lines are still judged. */
export const MAX_KEPT_CHARS = 32 * 1024 * 1024;
export const CUT_LINE_MARK = ' [bootc-harness: line cut here]';

export class ConsoleWatch extends EventEmitter {
  readonly lines: string[] = [];
  readonly hits: ConsoleHit[] = [];
  /** Characters the watch has scanned, stripped or matched: linear in what it read (a test counts it). */
  examined = 0;
  /** Lines seen, kept or not: hits are numbered by it. */
  private lineCount = 0;
  private keptChars = 0;
  private loggedBytes = 0;
  private logCut = false;
  private partial = '';
  private out: WriteStream;
  private ended = false;
  /** The pending partial line already produced a hit; its completed line must not count twice. */
  private partialHit = false;

  private maxLogBytes: number;
  private maxKeptChars: number;
  private promptSettleMs: number;
  /** A blocking prompt seen and not yet given way to: it becomes fatal when the settle deadline passes first. */
  private pendingPrompt: { hit: ConsoleHit; gaveWay: () => void } | undefined;

  /** `limits`: smaller bounds and a shorter prompt settle than the defaults (tests). */
  constructor(readonly logPath: string, private warnOnly: ReadonlySet<string> = new Set(), limits: { maxLogBytes?: number; maxKeptChars?: number; promptSettleMs?: number } = {}) {
    super();
    this.maxLogBytes = limits.maxLogBytes ?? MAX_LOG_BYTES;
    this.maxKeptChars = limits.maxKeptChars ?? MAX_KEPT_CHARS;
    this.promptSettleMs = limits.promptSettleMs ?? PROMPT_SETTLE_MS;
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
    this.log(text);
    // Only the new text is scanned for line ends; the pending line grows by appending.
    this.examined += text.length;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.append(text.slice(from, nl));
      const raw = this.partial;
      this.partial = '';
      this.onLine(raw);
      from = nl + 1;
    }
    this.append(text.slice(from));
    // A prompt has no newline (a passphrase prompt, "login: "): check the pending
    // line too, without consuming it, and judge it once.
    if (this.partial) {
      const window = this.partial.length > PROMPT_WINDOW ? this.partial.slice(-PROMPT_WINDOW) : this.partial;
      this.examined += window.length;
      const line = stripAnsi(window);
      if (!this.partialHit) {
        // Only prompts: any other line is judged once complete, so its hit quotes all of it.
        const hit = matchLine(line, this.lineCount + 1, this.warnOnly, true);
        if (hit) {
          this.partialHit = true;
          this.record(hit);
        }
      }
      this.emit('partial', line);
    }
  }

  /** Adds to the pending line; a line reaching MAX_LINE is cut there (marked) and goes on as the next. */
  private append(piece: string): void {
    while (this.partial.length + piece.length >= MAX_LINE) {
      const take = MAX_LINE - this.partial.length;
      const raw = this.partial + piece.slice(0, take) + CUT_LINE_MARK;
      piece = piece.slice(take);
      this.partial = '';
      this.onLine(raw);
    }
    this.partial += piece;
  }

  /** Appends to console.log up to MAX_LOG_BYTES, then one line saying the rest is not kept. */
  private log(text: string): void {
    if (this.logCut) return;
    const bytes = Buffer.byteLength(text);
    if (this.loggedBytes + bytes <= this.maxLogBytes) {
      this.loggedBytes += bytes;
      this.out.write(text);
      return;
    }
    this.logCut = true;
    this.out.write(`\n[bootc-harness: console log cut after ${this.loggedBytes} bytes: the guest wrote more than ${this.maxLogBytes}]\n`);
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
    this.examined += raw.length;
    const line = stripAnsi(raw);
    this.lineCount++;
    // Kept while the kept text is under its limit (lines.length then equals lineCount).
    if (this.keptChars + line.length <= this.maxKeptChars && this.lines.length === this.lineCount - 1) {
      this.keptChars += line.length;
      this.lines.push(line);
    }
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
      const hit = matchLine(line, this.lineCount, this.warnOnly);
      if (hit) this.record(hit);
    }
    this.emit('line', line);
  }

  flush(): void {
    const raw = this.partial;
    this.partial = '';
    if (raw) this.onLine(raw);
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
    // A hit past the kept lines has only its own line to show.
    return hit.lineNo <= this.lines.length ? excerpt(this.lines, hit.lineNo) : `> ${hit.line}`;
  }

  /** The last thing the guest wrote, complete line or not. */
  lastLine(): string {
    return this.partial ? stripAnsi(this.partial) : (this.lines.at(-1) ?? '');
  }

  tail(n = 40): string {
    const cut = this.lines.length < this.lineCount ? [`[bootc-harness: ${this.lineCount - this.lines.length} later console lines judged but not kept]`] : [];
    return [...this.lines.slice(-n), ...cut, ...(this.partial ? [stripAnsi(this.partial)] : [])].join('\n');
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
