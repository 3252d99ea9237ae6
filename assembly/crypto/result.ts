/**
 * Result codes of every verification in `assembly/crypto/`. Verification never traps:
 * malformed keys, signatures and inputs come back as a code, so that a filter can deny
 * the request with a reason and go on.
 */
export enum VerifyResult {
  /** The signature or MAC is valid for the message and key. */
  Valid = 0,
  /** Well-formed inputs, but the signature or MAC does not match. */
  Invalid = 1,
  /** The key is unusable (RSA modulus < 2048 bits, even or unit exponent, point off the curve, wrong length...). */
  BadKey = 2,
  /** The signature is malformed (wrong length, r or s zero or ≥ n, non-canonical encoding...). */
  BadSignature = 3,
  /** An argument is outside what the algorithm accepts (unknown hash, empty key...). */
  BadInput = 4,
}
