// The two prime fields as classes with one shape, so that the point code (curve.ts) is
// written once as generic code and compiled once per field with direct calls.
import { p256Add, p256Mul, p256Sqr, p256Sub } from "./p256-field";
import { p384Add, p384Mul, p384Sqr, p384Sub } from "./p384-field";

/**
 * GF(p) for P-256, p = 2^256 - 2^224 + 2^192 + 2^96 - 1. Elements: 8 little-endian
 * 32-bit words at an address, Montgomery form, fully reduced.
 */
@final
export class FieldP256 {
  /** Words per element. */
  readonly words: i32 = 8;
  @inline mul(out: usize, a: usize, b: usize): void { p256Mul(out, a, b); }
  @inline sqr(out: usize, a: usize): void { p256Sqr(out, a); }
  @inline add(out: usize, a: usize, b: usize): void { p256Add(out, a, b); }
  @inline sub(out: usize, a: usize, b: usize): void { p256Sub(out, a, b); }
}

/**
 * GF(p) for P-384, p = 2^384 - 2^128 - 2^96 + 2^32 - 1. Elements: 12 little-endian
 * 32-bit words, Montgomery form, fully reduced.
 */
@final
export class FieldP384 {
  readonly words: i32 = 12;
  @inline mul(out: usize, a: usize, b: usize): void { p384Mul(out, a, b); }
  @inline sqr(out: usize, a: usize): void { p384Sqr(out, a); }
  @inline add(out: usize, a: usize, b: usize): void { p384Add(out, a, b); }
  @inline sub(out: usize, a: usize, b: usize): void { p384Sub(out, a, b); }
}
