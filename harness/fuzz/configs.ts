/**
 * Configurations for the filter fuzzers: a valid one (generated, then perturbed within
 * the rules), one broken on purpose in one place (the filter must refuse it with one
 * line naming that JSON path), or one whose bytes are garbled (refused or accepted, never
 * a trap).
 */
import { mutate, type Rng } from './json-gen.ts';
import { memberPath } from './session.ts';

/** Breaks `config` (a deep copy, edited in place) in one place; returns that place's JSON path, or null when it does not apply. */
export type Breaker = (rng: Rng, config: any) => string | null;

export interface ConfigChoice {
  config: string;
  configBase64?: string;
  expect: 'accept' | 'reject' | 'any';
  rejectPath?: string;
}

/** A breaker that adds an unknown member to one of the objects `objects(config)` lists as [path, object]. */
export function unknownField(objects: (config: any) => Array<[string, Record<string, unknown>]>): Breaker {
  return (rng, config) => {
    const list = objects(config).filter(([, o]) => o && typeof o === 'object' && !Array.isArray(o));
    if (list.length === 0) return null;
    const [path, obj] = rng.pick(list);
    const name = rng.pick(['bogus', 'typo_field', 'Name', 'limts', 'x']);
    if (name in obj) return null;
    // First in the object: the reader reports unknown members before reading the others.
    const copy = { [name]: 1, ...obj };
    for (const k of Object.keys(obj)) delete obj[k];
    Object.assign(obj, copy);
    return memberPath(path, name);
  };
}

/** A breaker that sets `field` of one of `objects(config)` to `value(rng, current)`. */
export function setField(objects: (config: any) => Array<[string, Record<string, unknown>]>, field: string, value: (rng: Rng, current: unknown) => unknown): Breaker {
  return (rng, config) => {
    const list = objects(config).filter(([, o]) => o && typeof o === 'object');
    if (list.length === 0) return null;
    const [path, obj] = rng.pick(list);
    obj[field] = value(rng, obj[field]);
    return memberPath(path, field);
  };
}

/**
 * The configuration of a session: `valid` as it is (most often), broken by one of
 * `breakers`, or garbled bytes of it.
 */
export function chooseConfig(rng: Rng, valid: unknown, breakers: Breaker[], odds = { broken: 0.08, garbled: 0.04 }): ConfigChoice {
  const text = JSON.stringify(valid, null, rng.chance(0.3) ? 1 : undefined);
  const r = rng.next() / 0x100000000;
  if (r < odds.broken) {
    for (let tries = 0; tries < 8; tries++) {
      const copy = JSON.parse(text);
      const path = rng.pick(breakers)(rng, copy);
      if (path !== null) return { config: JSON.stringify(copy), expect: 'reject', rejectPath: path };
    }
  } else if (r < odds.broken + odds.garbled) {
    const bytes = mutate(rng, Buffer.from(text));
    const back = Buffer.from(bytes).toString('utf8');
    if (Buffer.from(back).equals(bytes)) return { config: back, expect: 'any' };
    return { config: '', configBase64: Buffer.from(bytes).toString('base64'), expect: 'any' };
  }
  return { config: text, expect: 'accept' };
}
