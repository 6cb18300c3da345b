// The checks profiles (and their sections) are validated with: each takes the raw value and
// its key path and returns the typed value, or throws Invalid with the message that follows
// `profile "<name>": `. Unknown keys are refused at every level; optional keys get defaults.

export class Invalid extends Error {}

export type Check<T> = (v: unknown, at: string) => T;

export function found(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function bad(at: string, what: string, v: unknown): Invalid {
  return new Invalid(`${at} ${what}, found ${found(v)}`);
}

export const joinPath = (at: string, key: string) => (at ? `${at}.${key}` : key);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const bool: Check<boolean> = (v, at) => {
  if (typeof v !== 'boolean') throw bad(at, 'must be a boolean', v);
  return v;
};

export const positiveInt: Check<number> = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(at, 'must be a positive integer', v);
  return v;
};

/** A whole number from 0 to max. */
export function count(max: number): Check<number> {
  return (v, at) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw bad(at, `must be a whole number from 0 to ${max}`, v);
    return v;
  };
}

export function text(pattern: RegExp, what: string): Check<string> {
  return (v, at) => {
    if (typeof v !== 'string' || !pattern.test(v)) throw bad(at, `must be ${what}`, v);
    return v;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, at) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw bad(at, `must be one of ${values.join(', ')}`, v);
    }
    return v as T;
  };
}

/** A list of distinct items, each checked at `at[i]`. */
export function listOf<T>(item: Check<T>): Check<T[]> {
  return (v, at) => {
    if (!Array.isArray(v)) throw bad(at, 'must be a list', v);
    const out = v.map((x, i) => item(x, `${at}[${i}]`));
    const dup = out.findIndex((x, i) => out.indexOf(x) !== i);
    if (dup >= 0) throw bad(`${at}[${dup}]`, 'must not repeat an earlier entry', v[dup]);
    return out;
  };
}

export function nullOr<T>(inner: Check<T>, what: string): Check<T | null> {
  return (v, at) => {
    if (v === null) return null;
    if (!isPlainObject(v)) throw bad(at, `must be null or ${what}`, v);
    return inner(v, at);
  };
}

export interface Field<T> {
  check: Check<T>;
  /** Present: the key may be left out and gets this value. */
  dflt?: () => T;
  /** The key may be left out and then stays out. */
  optional?: boolean;
}

export const required = <T>(check: Check<T>): Field<T> => ({ check });
export const withDefault = <T>(check: Check<T>, dflt: () => T): Field<T> => ({ check, dflt });
export const optional = <T>(check: Check<T>): Field<T | undefined> => ({ check, optional: true });

/** An object with exactly these keys: unknown keys refused, defaults filled. */
export function object<T>(fields: { [K in keyof T]-?: Field<T[K]> }): Check<T> {
  return (v, at) => {
    if (!isPlainObject(v)) throw bad(at || 'the profile', 'must be an object', v);
    for (const key of Object.keys(v)) {
      if (!Object.hasOwn(fields, key)) throw new Invalid(`unknown key ${joinPath(at, key)}`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, f] of Object.entries(fields) as [string, Field<unknown>][]) {
      const path = joinPath(at, key);
      if (Object.hasOwn(v, key)) out[key] = f.check(v[key], path);
      else if (f.dflt) out[key] = f.dflt();
      else if (!f.optional) throw new Invalid(`${path} is required`);
    }
    return out as T;
  };
}
