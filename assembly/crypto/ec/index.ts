/**
 * ECDSA verification for JWS ES256 (P-256 + SHA-256) and ES384 (P-384 + SHA-384),
 * RFC 7518 §3.4, FIPS 186-4 §6.4.2, SEC 1 v2 §4.1.4.
 *
 * A key is imported once from its JWK `x`/`y` (RFC 7518 §6.2.1.2: big-endian, exactly the
 * coordinate size), validated once, and carries precomputed multiples of the point, so
 * each verification costs about 30 (P-256) or 42 (P-384) doublings and ~85 / ~125 mixed
 * additions. Nothing here traps on bad input: every problem is a `VerifyResult`.
 *
 * Layout: p256-field.ts / p384-field.ts (generated field arithmetic), fields.ts (their
 * common shape), scalar.ts (mod n), curve.ts (points, tables, verification), words.ts.
 */
import { VerifyResult } from "../result";
import { HashAlg, hashRawInto } from "../sha2";
import { curveP256, curveP384 } from "./curves";

/** Named curves by JWK `crv`. */
export enum EcCurve {
  /** "P-256" (secp256r1), used by ES256. */
  P256 = 1,
  /** "P-384" (secp384r1), used by ES384. */
  P384 = 2,
}

/** Coordinate (and scalar) size in bytes of `crv`: 32, 48, or 0 for an unknown value. */
export function ecCoordinateLength(crv: EcCurve): i32 {
  if (crv == EcCurve.P256) return 32;
  if (crv == EcCurve.P384) return 48;
  return 0;
}

/**
 * An EC public key, validated once, with its precomputed table (see the module doc).
 * Build it with `EcPublicKey.fromJwk`; verify with `verify` (ES256/ES384) or
 * `verifyDigest` (prehashed).
 */
export class EcPublicKey {
  /** The key's curve. */
  readonly curve: EcCurve;
  private readonly table: StaticArray<u32>;

  private constructor(curve: EcCurve, table: StaticArray<u32>) {
    this.table = table;
    this.curve = curve;
  }

  /**
   * Imports JWK `x` and `y` (RFC 7518 §6.2.1: big-endian, 32 bytes each for P-256, 48 for
   * P-384). Returns null (a `VerifyResult.BadKey` for the caller) when a length is wrong,
   * a coordinate is ≥ p, or the point is not on the curve (SEC 1 v2 §3.2.2.1).
   */
  static fromJwk(crv: EcCurve, x: Uint8Array, y: Uint8Array): EcPublicKey | null {
    return EcPublicKey.fromRaw(crv, x.dataStart, x.length, y.dataStart, y.length);
  }

  /** As `fromJwk`, for `xLen`/`yLen` bytes at addresses `x`/`y`. */
  static fromRaw(crv: EcCurve, x: usize, xLen: i32, y: usize, yLen: i32): EcPublicKey | null {
    const len = ecCoordinateLength(crv);
    if (len == 0 || xLen != len || yLen != len) return null;
    if (crv == EcCurve.P256) {
      const c = curveP256();
      const table = new StaticArray<u32>(c.tableWords);
      return c.importPublicKey(table, x, y) ? new EcPublicKey(crv, table) : null;
    }
    const c = curveP384();
    const table = new StaticArray<u32>(c.tableWords);
    return c.importPublicKey(table, x, y) ? new EcPublicKey(crv, table) : null;
  }

  /** Coordinate size in bytes (32 or 48); a signature is twice this. */
  get coordinateLength(): i32 {
    return ecCoordinateLength(this.curve);
  }

  /** The hash JWS pairs with this curve: SHA-256 for P-256 (ES256), SHA-384 for P-384 (ES384). */
  get hashAlg(): HashAlg {
    return this.curve == EcCurve.P256 ? HashAlg.SHA256 : HashAlg.SHA384;
  }

  /**
   * Verifies a JWS ES256/ES384 signature (RFC 7518 §3.4): `sig` is r || s, exactly 64
   * (P-256) or 96 (P-384) bytes; `message` is the JWS signing input, hashed here.
   * Returns Valid, Invalid, or BadSignature (wrong length, r or s outside [1, n-1]).
   */
  verify(message: Uint8Array, sig: Uint8Array): VerifyResult {
    return this.verifyRaw(message.dataStart, message.length, sig.dataStart, sig.length);
  }

  /** As `verify`, for `messageLen` bytes at `message` and `sigLen` bytes at `sig`. */
  verifyRaw(message: usize, messageLen: i32, sig: usize, sigLen: i32): VerifyResult {
    if (messageLen < 0) return VerifyResult.BadInput;
    const len = this.coordinateLength;
    if (sigLen != 2 * len) return VerifyResult.BadSignature;
    hashRawInto(this.hashAlg, message, <usize>messageLen, digestBuffer);
    return this.verifyDigestRaw(digestBuffer.dataStart, sig);
  }

  /**
   * Verifies r || s (`sig`, 2·coordinateLength bytes) over a digest of exactly
   * coordinateLength bytes (SHA-256 for P-256, SHA-384 for P-384). Returns Valid,
   * Invalid, BadSignature, or BadInput for a digest of another length.
   */
  verifyDigest(digest: Uint8Array, sig: Uint8Array): VerifyResult {
    const len = this.coordinateLength;
    if (digest.length != len) return VerifyResult.BadInput;
    if (sig.length != 2 * len) return VerifyResult.BadSignature;
    return this.verifyDigestRaw(digest.dataStart, sig.dataStart);
  }

  @inline private verifyDigestRaw(digest: usize, sig: usize): VerifyResult {
    if (this.curve == EcCurve.P256) return curveP256().verifyDigest(this.table, digest, sig);
    return curveP384().verifyDigest(this.table, digest, sig);
  }

  /**
   * k1·G + k2·Q (Q = this key) as affine big-endian x || y at `out` (2·coordinateLength
   * bytes); scalars big-endian of coordinateLength bytes, each 0 or in [1, n-1].
   * False for the point at infinity. Exposed for tests of the point arithmetic.
   */
  mulDoubleForTest(out: usize, k1: usize, k2: usize): bool {
    if (this.curve == EcCurve.P256) return curveP256().mulDoubleAffine(out, k1, k2, this.table);
    return curveP384().mulDoubleAffine(out, k1, k2, this.table);
  }
}

const digestBuffer = new Uint8Array(48);
