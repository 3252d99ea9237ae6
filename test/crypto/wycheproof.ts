/**
 * Reads the Wycheproof vector files vendored in ./wycheproof/ (C2SP/wycheproof,
 * testvectors_v1; provenance and licence in its README.md): `testGroups[]`, each with a public key (`publicKeyJwk`, `publicKeyDer`;
 * for HMAC a `key` per test) and `tests[]` of `{ tcId, comment, flags, msg, sig|tag, result }`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const wycheproofDir = path.join(import.meta.dirname, 'wycheproof');

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
  msg: Uint8Array;
  /** `sig` for signatures, `tag` for MACs. */
  sig: Uint8Array;
  /** The MAC key (HMAC files only). */
  key?: Uint8Array;
  /** Truncated tag size in bits (HMAC files only). */
  tagSize?: number;
  raw: Record<string, unknown>;
}

export interface WycheproofGroup {
  raw: Record<string, any>;
  tests: WycheproofTest[];
}

export interface WycheproofFile {
  file: string;
  algorithm: string;
  numberOfTests: number;
  groups: WycheproofGroup[];
}

export const hex = (s: string | undefined): Uint8Array => Buffer.from(s ?? '', 'hex');

/** Lists the vector files, optionally those whose name starts with `prefix`. */
export function listVectorFiles(prefix = ''): string[] {
  return readdirSync(wycheproofDir)
    .filter((f: string) => f.endsWith('_test.json') && f.startsWith(prefix))
    .sort();
}

export function loadVectors(file: string): WycheproofFile {
  const json = JSON.parse(readFileSync(path.join(wycheproofDir, file), 'utf8'));
  const groups: WycheproofGroup[] = json.testGroups.map((g: any) => ({
    raw: g,
    tests: g.tests.map((t: any) => ({
      tcId: t.tcId,
      comment: t.comment ?? '',
      flags: t.flags ?? [],
      result: t.result,
      msg: hex(t.msg),
      sig: hex(t.sig ?? t.tag),
      key: t.key !== undefined ? hex(t.key) : undefined,
      tagSize: g.tagSize,
      raw: t,
    })),
  }));
  const count = groups.reduce((n, g) => n + g.tests.length, 0);
  if (count !== json.numberOfTests) throw new Error(`${file}: ${count} tests read, file says ${json.numberOfTests}`);
  return { file, algorithm: json.algorithm, numberOfTests: json.numberOfTests, groups };
}
