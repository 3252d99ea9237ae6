/**
 * The descriptor key of a request: the values of a rule's `key` parts, encoded without
 * ambiguity, then stored in a bucket-table slot (bucket-page.ts) inline when short or
 * as its SHA-256 when long, and hashed to pick the slot's page.
 *
 * Encoding, part after part, lengths as LEB128:
 *   header / claim   absent: 0x00;  present: 0x01, length, UTF-8 value (first value)
 *   remote_address   0x02 + 4 bytes (IPv4) | 0x03 + 16 bytes (IPv6) |
 *                    0x04, length, text (an address that is not IP) | 0x00 (none at all)
 *   path             0x05, length, UTF-8 of `:path` up to `?` or `#`
 *   generic          0x06, length, UTF-8 constant
 * A missing header is its own value (0x00): requests without it share one bucket; they
 * are not let through unlimited (filters.md).
 *
 * Keys of up to KEY_BYTES bytes (an IPv6 address, a UUID user id) are stored as they
 * are; longer ones as their SHA-256 (form KEY_HASHED), so that no crafted value can
 * share another client's bucket. The page hash is FNV-1a 64 seeded with the
 * configuration's hash, the same in every VM.
 */
import { RequestHeaders, pathLength } from "../../assembly/match";
import { KeyPart, KeyPartKind, Rule, fnv1a64 } from "./config";
import { AddressSource, ClientAddress } from "./client-address";
import { sha256Compact } from "../../assembly/crypto/sha256-compact";

/** Longest key stored as it is; longer keys are stored as their SHA-256. */
export const KEY_BYTES: i32 = 40;
/** `DescriptorKey.form` of a key stored as its SHA-256. */
export const KEY_HASHED: u8 = 0xff;
const DIGEST_BYTES: i32 = 32;

const TAG_ABSENT: u8 = 0x00;
const TAG_VALUE: u8 = 0x01;
const TAG_IPV4: u8 = 0x02;
const TAG_IPV6: u8 = 0x03;
const TAG_ADDRESS_TEXT: u8 = 0x04;
const TAG_PATH: u8 = 0x05;
const TAG_GENERIC: u8 = 0x06;

export { AddressSource, ClientAddress, FixedAddress } from "./client-address";

/** A request's key for one rule: reused for every request (one callback at a time). */
export class DescriptorKey {
  private raw: ArrayBuffer = new ArrayBuffer(256);
  private rawLength: i32 = 0;
  private readonly digest: ArrayBuffer = new ArrayBuffer(DIGEST_BYTES);
  /** Stored length (0..KEY_BYTES), or KEY_HASHED. */
  form: u8 = 0;
  /** Address and length of the bytes a slot stores. */
  storedPtr: usize = 0;
  storedLength: i32 = 0;
  /** FNV-1a 64 of rule index and stored bytes: picks the page. */
  hash: u64 = 0;

  /** Starts an empty key. */
  clear(): void {
    this.rawLength = 0;
  }

  /** The encoded key bytes (before hashing), for tests and tools. */
  encoded(): Uint8Array {
    const out = new Uint8Array(this.rawLength);
    memory.copy(out.dataStart, changetype<usize>(this.raw), <usize>this.rawLength);
    return out;
  }

  /** Fixes the stored form and the hash once every part is written. */
  finish(ruleIndex: i32, seed: u64): void {
    const raw = changetype<usize>(this.raw);
    if (this.rawLength <= KEY_BYTES) {
      this.form = <u8>this.rawLength;
      this.storedPtr = raw;
      this.storedLength = this.rawLength;
    } else {
      sha256Compact(raw, <usize>this.rawLength, changetype<usize>(this.digest));
      this.form = KEY_HASHED;
      this.storedPtr = changetype<usize>(this.digest);
      this.storedLength = DIGEST_BYTES;
    }
    this.hash = fnv1a64(this.storedPtr, this.storedLength, seed ^ (<u64>ruleIndex * 0x9e3779b97f4a7c15));
  }

  byte(b: u8): void {
    this.reserve(1);
    store<u8>(changetype<usize>(this.raw) + <usize>this.rawLength, b);
    this.rawLength++;
  }

  /** Writes `n` bytes at `ptr`. */
  bytes(ptr: usize, n: i32): void {
    this.reserve(n);
    memory.copy(changetype<usize>(this.raw) + <usize>this.rawLength, ptr, <usize>n);
    this.rawLength += n;
  }

  /** Writes `tag`, the UTF-8 length, and the UTF-8 of `s[0, length)`. */
  text(tag: u8, s: string, length: i32): void {
    this.byte(tag);
    // Encode past room for the longest length prefix, then move the bytes down behind it.
    this.reserve(5 + 3 * length);
    const spare = changetype<usize>(this.raw) + <usize>this.rawLength + 5;
    const written = <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), length, spare);
    this.varint(<u32>written);
    memory.copy(changetype<usize>(this.raw) + <usize>this.rawLength, spare, <usize>written);
    this.rawLength += written;
  }

  private varint(x: u32): void {
    while (x >= 0x80) {
      this.byte(<u8>(x | 0x80));
      x >>= 7;
    }
    this.byte(<u8>x);
  }

  private reserve(n: i32): void {
    const need = this.rawLength + n;
    if (need <= this.raw.byteLength) return;
    let size = this.raw.byteLength << 1;
    while (size < need) size <<= 1;
    const grown = new ArrayBuffer(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.raw), <usize>this.rawLength);
    this.raw = grown;
  }
}

/** Builds the key of a rule's `key` parts from a request. */
export class DescriptorBuilder {
  constructor(
    /** The client address of remote_address parts (shared with the global request: one answer per request). */
    private readonly client: ClientAddress,
    /** Configuration hash, the seed of the page hash. */
    readonly seed: u64,
  ) {}

  /** Writes the key of `rule` for `request` into `key`. */
  build(rule: Rule, request: RequestHeaders, source: AddressSource, key: DescriptorKey): void {
    key.clear();
    const parts = rule.key;
    for (let i = 0, n = parts.length; i < n; i++) this.part(unchecked(parts[i]), request, source, key);
    key.finish(rule.index, this.seed);
  }

  private part(part: KeyPart, request: RequestHeaders, source: AddressSource, key: DescriptorKey): void {
    switch (part.kind) {
      case KeyPartKind.Header:
      case KeyPartKind.Claim: {
        const value = request.header(part.text);
        if (value === null) key.byte(TAG_ABSENT);
        else key.text(TAG_VALUE, value, value.length);
        break;
      }
      case KeyPartKind.RemoteAddress:
        this.remoteAddress(request, source, key);
        break;
      case KeyPartKind.Path: {
        const path = request.path();
        key.text(TAG_PATH, path, pathLength(path));
        break;
      }
      default:
        key.text(TAG_GENERIC, part.text, part.text.length);
    }
  }

  private remoteAddress(request: RequestHeaders, source: AddressSource, key: DescriptorKey): void {
    const client = this.client;
    const n = client.resolve(request, source);
    if (n > 0) {
      key.byte(n == 4 ? TAG_IPV4 : TAG_IPV6);
      key.bytes(changetype<usize>(client.ip), n);
    } else if (n == 0) {
      key.byte(TAG_ABSENT);
    } else {
      key.text(TAG_ADDRESS_TEXT, client.text, client.text.length);
    }
  }
}
