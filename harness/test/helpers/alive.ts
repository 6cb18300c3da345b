// The harness's timers are unref'd by design (they never keep a process alive), so a test
// that waits on nothing else holds the event loop open itself until `p` settles.
export function alive<T>(p: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1000);
  return p.finally(() => clearInterval(hold));
}
