// What a run says as it goes: a stage starting and ending (with its duration and whether
// it came from a cache), where a long stage has got to (progress: the build's step, the
// boot's milestone), a line of the log, a test's result, the verdict. People get one
// timestamped line each; other tools get one JSON object a line (--json).
export type RunEvent =
  | { event: 'stage-start'; at: string; stage: string }
  | { event: 'stage-end'; at: string; stage: string; ms: number; cached: boolean; error?: string }
  | { event: 'progress'; at: string; stage: string; text: string }
  | { event: 'log'; at: string; line: string }
  | { event: 'test'; at: string; id: string; tier: string; status: string; error?: string }
  | { event: 'verdict'; at: string; verdict: string; exitCode: number; runDir: string; tiers?: Record<string, string> };

/** Where events go. `at` is filled in by whoever emits. */
export type EventSink = (e: RunEvent) => void;

type Body<E> = E extends RunEvent ? Omit<E, 'at'> : never;

/** Stamps an event with the time and hands it on. */
export function emitter(sink: EventSink | undefined): (e: Body<RunEvent>) => void {
  return (e) => sink?.({ ...e, at: new Date().toISOString() } as RunEvent);
}

/** Pure: what a person reads for an event (the time apart, so a caller can place it). */
export function describeEvent(e: RunEvent): { time: string; text: string } {
  const time = e.at.slice(11, 19);
  switch (e.event) {
    case 'stage-start':
      return { time, text: `${e.stage}: started` };
    case 'stage-end':
      return { time, text: `${e.stage}: ${e.error ? 'failed' : 'done'} in ${(e.ms / 1000).toFixed(1)} s${e.cached ? ' (cached)' : ''}${e.error ? `: ${e.error.split('\n')[0]}` : ''}` };
    case 'progress':
      return { time, text: `${e.stage}: ${e.text}` };
    case 'log':
      return { time, text: e.line };
    case 'test':
      return { time, text: `${e.status} ${e.tier} ${e.id}${e.error ? `: ${e.error.split('\n')[0]}` : ''}` };
    case 'verdict':
      return { time, text: `verdict: ${e.verdict} (exit ${e.exitCode}), report ${e.runDir}` };
  }
}
