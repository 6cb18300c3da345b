// Live objects register their teardown here; it runs in reverse order, once,
// continues past a failing step and reports every error.
import { TeardownError } from '../errors.js';

interface Step {
  name: string;
  fn: () => Promise<void> | void;
}

export class Teardown {
  private steps: Step[] = [];
  private running: Promise<Error[]> | undefined;
  private finished = false;

  /** Registers a cleanup; returns a function that runs (and unregisters) it early. */
  defer(name: string, fn: () => Promise<void> | void): () => Promise<void> {
    const step: Step = { name, fn };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await step.fn();
    };
  }

  get size(): number {
    return this.steps.length;
  }

  /**
   * Idempotent: a second call (say, SIGINT during teardown) waits for the first.
   * Steps deferred after a finished run are run by the next call.
   */
  run(): Promise<Error[]> {
    if (this.running && this.finished && this.steps.length > 0) this.running = undefined;
    this.running ??= (async () => {
      this.finished = false;
      const errors: Error[] = [];
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.fn();
        } catch (e) {
          errors.push(new Error(`teardown ${step.name}: ${(e as Error).message}`, { cause: e }));
        }
      }
      this.finished = true;
      return errors;
    })();
    return this.running;
  }

  async runOrThrow(): Promise<void> {
    const errors = await this.run();
    if (errors.length) throw new TeardownError(errors, errors.map((e) => e.message).join('; '));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.runOrThrow();
  }
}
