// What a person sees of a run on stderr. A pipe, a file or CI gets plain timestamped lines:
// every stage's start and end, every progress step, every log line. An interactive terminal
// gets the lines said once (a stage's end with its duration, the log) and one live status
// line under them for what keeps changing: the running stage, its time so far and its latest
// step, redrawn in place by log-update. While the suites run, Playwright owns the terminal
// and the status line stands aside. With --json, every event is also a JSON line on stdout.
import { createLogUpdate } from 'log-update';
import { describeEvent, type EventSink, type RunEvent } from '../report/events.js';

export interface Terminal {
  log: (line: string) => void;
  events: EventSink;
  /** Ends the live view (the status line cleared); safe to call twice. */
  close: () => void;
}

const PREFIX = 'bootc-harness:';
const stamp = () => new Date().toISOString().slice(11, 19);

/** Whether stderr gets the live view: a terminal a person reads, not CI's log or a dumb one. */
export function wantsLiveView(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.CI && env.TERM !== 'dumb';
}

export function terminalFor(json: boolean, stream: NodeJS.WriteStream = process.stderr): Terminal {
  const toStdout = json ? (e: RunEvent) => void process.stdout.write(JSON.stringify(e) + '\n') : () => undefined;
  return wantsLiveView(stream, process.env) ? liveTerminal(stream, toStdout) : plainTerminal((s) => void stream.write(s), toStdout);
}

/** Every line timestamped, in order: what CI logs and files keep. */
export function plainTerminal(write: (s: string) => void, alsoEvent: EventSink = () => undefined): Terminal {
  return {
    log: (line) => write(`${stamp()} ${PREFIX} ${line}\n`),
    events: (e) => {
      alsoEvent(e);
      if (e.event === 'stage-start' || e.event === 'stage-end' || e.event === 'progress') {
        const d = describeEvent(e);
        write(`${d.time} ${PREFIX} ${d.text}\n`);
      }
    },
    close: () => undefined,
  };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Pure: the status line of a running stage, cut to the terminal's width. */
export function statusLine(r: { stage: string; startedAt: number; step?: string }, now: number, frame: number, columns: number): string {
  const secs = Math.floor((now - r.startedAt) / 1000);
  const line = `${SPINNER[frame % SPINNER.length]} ${r.stage} ${secs} s${r.step ? `  ${r.step}` : ''}`;
  const width = Math.max(20, columns - 1);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Pure: the line a finished stage leaves behind. */
export function stageEndLine(e: Extract<RunEvent, { event: 'stage-end' }>): string {
  const secs = (e.ms / 1000).toFixed(1);
  return e.error ? `✖ ${e.stage} failed after ${secs} s: ${e.error.split('\n')[0]}` : `✔ ${e.stage} ${secs} s${e.cached ? ' (cached)' : ''}`;
}

export function liveTerminal(stream: NodeJS.WriteStream, alsoEvent: EventSink = () => undefined): Terminal {
  // A terminal that reports no size (0 x 0: a pty nobody sized) still gets a status line.
  const sized = { isTTY: true, write: (s: string) => stream.write(s), get columns() { return stream.columns || 100; }, get rows() { return stream.rows || 24; } };
  const live = createLogUpdate(sized as unknown as NodeJS.WriteStream, { showCursor: true });
  let running: { stage: string; startedAt: number; step?: string } | undefined;
  let frame = 0;
  let closed = false;
  const render = () => {
    if (closed || !running || running.stage === 'suites') return;
    live(statusLine(running, Date.now(), frame++, stream.columns || 100));
  };
  // The clock in the status line moves even when the stage says nothing (a boot's quiet minute).
  const ticker = setInterval(render, 1000);
  ticker.unref();
  /** A line that stays: the status line makes way, the line is written, the status line returns. */
  const say = (text: string) => {
    if (closed) return void stream.write(`${stamp()} ${text}\n`);
    live.clear();
    stream.write(`${stamp()} ${text}\n`);
    render();
  };
  return {
    log: say,
    events: (e) => {
      alsoEvent(e);
      if (e.event === 'stage-start') {
        running = { stage: e.stage, startedAt: Date.parse(e.at) };
        // Playwright prints its own progress; a line marks where it begins.
        if (e.stage === 'suites') say('suites: started');
        else render();
      } else if (e.event === 'stage-end') {
        running = undefined;
        say(stageEndLine(e));
      } else if (e.event === 'progress' && running?.stage === e.stage) {
        running.step = e.text;
        render();
      }
    },
    close: () => {
      if (closed) return;
      clearInterval(ticker);
      live.clear();
      live.done();
      closed = true;
    },
  };
}
