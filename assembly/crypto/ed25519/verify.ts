/**
 * Ed25519 signature verification (RFC 8032 §5.1.7), as JWS "EdDSA" with an OKP key of
 * curve "Ed25519" uses it (RFC 8037 §3.1): pure Ed25519, no context, no prehash.
 *
 * Choices, all checked by the Wycheproof and node:crypto suites (test/crypto/eddsa*):
 * - Equation: cofactorless, [S]B - [k]A encoded and compared byte for byte with R, as
 *   RFC 8032 §5.1.7 allows ("sufficient, but not required") and as OpenSSL (node:crypto)
 *   does; all 151 Wycheproof vectors come out as expected with it. Comparing encodings
 *   also rejects every non-canonical R without decoding it: R with y ≥ p is reported as
 *   BadSignature (checked before hashing), R = (-0, y) or off the curve as Invalid.
 * - S must be below L (step 1): S ≥ L is BadSignature (malleability, §8.4).
 * - Public keys are decoded strictly (§5.1.3): y ≥ p, x = 0 with the sign bit set and
 *   encodings that are not on the curve are BadKey.
 * - Public keys of small order (8A = 0: the neutral element and the 7 points of order
 *   2, 4 or 8) are BadKey: anyone can forge signatures for them (for A = 0, any R = [S]B
 *   verifies any message), and no key pair generated per §5.1.5 has one. Keys with a
 *   small-order component added to a large-order part are accepted (the RFC does not
 *   exclude them, and forging for them still needs the discrete log of that part).
 * - Small-order R: no special case; with a key of large order, [S]B - [k]A can only be
 *   such an R when the key holder made the signature.
 * node:crypto (OpenSSL 3.0) differs only on the key checks: it takes y ≥ p modulo p and
 * accepts the negative zero x and small-order keys.
 */
import { Sha512 } from "../sha2";
import { VerifyResult } from "../result";
import { isCanonical, isZero } from "./field";
import { A_WINDOW, baseTableAddress, buildTable, doubleScalarMulEncode, tableSize } from "./msm";
import { P3_SIZE, P1P1, P2, X, dbl, decode, toP2 } from "./point";
import { isCanonicalScalar, reduce512 } from "./scalar";

/** Length in bytes of an Ed25519 public key (RFC 8032 §5.1.5) and of JWK `x` (RFC 8037 §2). */
export const ED25519_PUBLIC_KEY_LENGTH: i32 = 32;
/** Length in bytes of an Ed25519 signature R || S (RFC 8032 §5.1.6). */
export const ED25519_SIGNATURE_LENGTH: i32 = 64;

const POINT: usize = memory.data(<i32>P3_SIZE, 8);
const DOUBLED: P1P1 = memory.data(<i32>P3_SIZE, 8);
const MULTIPLE: P2 = memory.data(<i32>P3_SIZE, 8);
const HASH: usize = memory.data(64, 8);
const CHECK_R: usize = memory.data(32, 8);
let hasher: Sha512 | null = null;

/** True when 8·p is the neutral element (p of order 1, 2, 4 or 8). */
function hasSmallOrder(p: P2): bool {
  const q = MULTIPLE;
  dbl(DOUBLED, p);
  toP2(q, DOUBLED);
  dbl(DOUBLED, q);
  toP2(q, DOUBLED);
  dbl(DOUBLED, q);
  toP2(q, DOUBLED);
  // 8p lies in the prime-order subgroup, whose only point with x = 0 is the neutral one.
  return isZero(X(q));
}

/**
 * An Ed25519 public key, decoded and validated once, holding the tables that make each
 * verification cheap (7.5 KB). Build it once per JWK and verify many signatures with it.
 */
export class Ed25519PublicKey {
  /** The 32-byte encoding, hashed into every signature's k (RFC 8032 §5.1.7 step 2). */
  readonly encoded: StaticArray<u8>;
  /** Odd multiples of 2^(64i)·A in affine Niels form (msm.ts). */
  private readonly table: StaticArray<u8>;

  private constructor(encoded: StaticArray<u8>, table: StaticArray<u8>) {
    this.encoded = encoded;
    this.table = table;
  }

  /**
   * Decodes a public key from its 32-byte encoding (RFC 8032 §5.1.5; the bytes of JWK
   * `x`, RFC 8037 §2). Returns null (VerifyResult.BadKey) when the length is not 32, the
   * encoding is not canonical or not on the curve (§5.1.3), or the point has small order.
   * Costs about five verifications; the first key of a module also builds B's tables
   * (msm.ts, a few milliseconds once).
   */
  static fromBytes(x: Uint8Array): Ed25519PublicKey | null {
    if (x.length != ED25519_PUBLIC_KEY_LENGTH) return null;
    return Ed25519PublicKey.fromRaw(x.dataStart);
  }

  /** As `fromBytes`, from 32 bytes at address `ptr`. */
  static fromRaw(ptr: usize): Ed25519PublicKey | null {
    if (!decode(POINT, ptr)) return null;
    if (hasSmallOrder(POINT)) return null;
    const encoded = new StaticArray<u8>(ED25519_PUBLIC_KEY_LENGTH);
    memory.copy(changetype<usize>(encoded), ptr, ED25519_PUBLIC_KEY_LENGTH);
    const table = new StaticArray<u8>(<i32>tableSize(A_WINDOW));
    buildTable(changetype<usize>(table), POINT, A_WINDOW);
    baseTableAddress(); // B's tables too, now rather than on a request's path
    return new Ed25519PublicKey(encoded, table);
  }

  /**
   * Verifies the Ed25519 signature `sig` (R || S, 64 bytes) of `msg[msgStart..msgEnd)`
   * (RFC 8032 §5.1.7). Returns Valid; Invalid when the equation fails (including any R
   * that is not a canonical point encoding); BadSignature when `sig` is not 64 bytes,
   * R's y is not below p or S ≥ L. Never traps; allocates nothing.
   */
  verify(msg: Uint8Array, sig: Uint8Array, msgStart: i32 = 0, msgEnd: i32 = msg.length): VerifyResult {
    if (msgStart < 0 || msgEnd > msg.length || msgStart > msgEnd) return VerifyResult.BadInput;
    return this.verifyRaw(msg.dataStart + <usize>msgStart, <usize>(msgEnd - msgStart), sig.dataStart, <usize>sig.length);
  }

  /** As `verify`, with the message (`msgLen` bytes) and signature (`sigLen` bytes) at addresses. */
  verifyRaw(msgPtr: usize, msgLen: usize, sigPtr: usize, sigLen: usize): VerifyResult {
    if (sigLen != <usize>ED25519_SIGNATURE_LENGTH) return VerifyResult.BadSignature;
    const r = sigPtr;
    const s = sigPtr + 32;
    if (!isCanonicalScalar(s)) return VerifyResult.BadSignature;
    if (!isCanonical(r)) return VerifyResult.BadSignature;
    // k = SHA-512(R || A || M) mod L
    let h = hasher;
    if (h === null) hasher = h = new Sha512();
    h.reset();
    h.updateRaw(r, 32);
    h.updateRaw(changetype<usize>(this.encoded), 32);
    h.updateRaw(msgPtr, msgLen);
    h.finalRaw(HASH);
    reduce512(HASH, HASH);
    doubleScalarMulEncode(CHECK_R, s, HASH, changetype<usize>(this.table));
    return memory.compare(CHECK_R, r, 32) == 0 ? VerifyResult.Valid : VerifyResult.Invalid;
  }
}

/**
 * One-shot verification with a 32-byte public key `publicKey` (see
 * `Ed25519PublicKey.fromBytes`; BadKey when it is rejected). Builds the key's tables each
 * time: for a key used more than once, keep an `Ed25519PublicKey`.
 */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): VerifyResult {
  const key = Ed25519PublicKey.fromBytes(publicKey);
  if (key === null) return VerifyResult.BadKey;
  return key.verify(msg, sig);
}
