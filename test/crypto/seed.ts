/**
 * The crypto differential suites' seed: CRYPTO_SEED when set (to replay a failure), else
 * fresh per test file; suites print it with any failure.
 */
import { createHash, randomBytes } from 'node:crypto';

export const seed = process.env.CRYPTO_SEED ?? randomBytes(8).toString('hex');

/** Deterministic bytes from the seed (SHA-256 in counter mode); each call continues the `label` stream. */
export function seededStream(label: string): (n: number) => Buffer {
  let counter = 0;
  return (n) => {
    const chunks: Buffer[] = [];
    for (let have = 0; have < n; have += 32) chunks.push(createHash('sha256').update(`${seed}/${label}/${counter++}`).digest());
    return Buffer.concat(chunks).subarray(0, n);
  };
}

/** The first `n` bytes of the `label` stream. */
export const seededBytes = (label: string, n: number): Buffer => seededStream(label)(n);
