/**
 * The EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2) that RS256/RS384/RS512 verification
 * expects: EM = 0x00 0x01 PS 0x00 T with PS the 0xFF bytes and T the DER DigestInfo
 * (RFC 8017 §9.2, Notes 1: NULL parameters included) followed by the digest H.
 * Shared by the byte comparison (pkcs1.ts) and the per-key precomputation of the
 * fixed part of EM (key.ts).
 */
import { HashAlg, hashLength } from "../sha2";

/** Bytes of DigestInfo before the digest, for every SHA-2 hash. */
export const DIGEST_INFO_PREFIX_LENGTH: i32 = 19;

const PREFIX_SHA256: usize = memory.data<u8>([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
]);
const PREFIX_SHA384: usize = memory.data<u8>([
  0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30,
]);
const PREFIX_SHA512: usize = memory.data<u8>([
  0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
]);

/** Address of the DigestInfo prefix of `alg` (DIGEST_INFO_PREFIX_LENGTH bytes); `alg` must be known. */
export function digestInfoPrefix(alg: HashAlg): usize {
  return alg == HashAlg.SHA256 ? PREFIX_SHA256 : alg == HashAlg.SHA384 ? PREFIX_SHA384 : PREFIX_SHA512;
}

/**
 * Writes the k-byte EM of `alg` at `out` with the digest bytes (the last hash-length
 * bytes) left zero: the part of EM that depends on the key size and hash only.
 * k must be at least DigestInfo + 11 bytes (every accepted key: k ≥ 256).
 */
export function pkcs1Template(out: usize, k: i32, alg: HashAlg): void {
  const hLen = hashLength(alg);
  const tLen = DIGEST_INFO_PREFIX_LENGTH + hLen;
  const psEnd = k - tLen - 1;
  store<u8>(out, 0x00);
  store<u8>(out, 0x01, 1);
  memory.fill(out + 2, 0xff, <usize>(psEnd - 2));
  store<u8>(out + <usize>psEnd, 0x00);
  memory.copy(out + <usize>(psEnd + 1), digestInfoPrefix(alg), <usize>DIGEST_INFO_PREFIX_LENGTH);
  memory.fill(out + <usize>(k - hLen), 0, <usize>hLen);
}
