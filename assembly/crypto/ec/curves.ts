// The two curves' domain parameters and their lazily built singletons.
import { Curve, CurveParams } from "./curve";
import { FieldP256, FieldP384 } from "./fields";

// FIPS 186-4 App. D.1.2.3 (P-256) and D.1.2.4 (P-384). Window parameters (CurveParams):
// - P-256: span 24 bits, 11 tables; a key's tables hold 32 points each (w = 6): 22 KB a
//   key; G's hold 128 (w = 8): 88 KB. A verification: 18 doublings, ~32 + ~43 mixed
//   additions (the span trades key memory for doublings; ES256 is the hot path).
// - P-384: span 48 bits, 8 tables; w = 6 for keys (24 KB a key), w = 8 for G (96 KB).
//   A verification: 42 doublings, ~48 + ~64 mixed additions.
// G's tables are built on a curve's first use.
let p256: Curve<FieldP256> | null = null;
let p384: Curve<FieldP384> | null = null;

export function curveP256(): Curve<FieldP256> {
  let c = p256;
  if (c === null) {
    p256 = c = new Curve<FieldP256>(new FieldP256(), 8, new CurveParams(
      "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
      "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
      "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
      "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
      6, 8, 24, 11,
    ));
  }
  return c;
}

export function curveP384(): Curve<FieldP384> {
  let c = p384;
  if (c === null) {
    p384 = c = new Curve<FieldP384>(new FieldP384(), 12, new CurveParams(
      "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
      "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
      "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
      "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
      "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
      6, 8, 48, 8,
    ));
  }
  return c;
}

