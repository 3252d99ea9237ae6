/**
 * The TypeScript codec of the records the filters keep in proxy-wasm shared data
 * (assembly/shared): tests and tools read and write them by field name, never by byte
 * offset. The offsets are assembly/shared/layouts.ts's own constants, imported as they
 * are (the file is written in the subset of TypeScript AssemblyScript also compiles);
 * what this file adds is each field's name and type, and
 * test/filters/shared-records.test.ts checks that these fields tile each record exactly
 * (no gap, no overlap, the record's size).
 *
 * Header (every record): u32 magic, u32 layout version, u32 size of the whole record;
 * `decodeRecord` reads a value as a record only when all three are the kind's, as
 * RecordLayout.recordOf does in the modules. Integers of 8 bytes are bigints.
 */
import * as L from '../assembly/shared/layouts.ts';

/** Little-endian integer types of the layouts. */
export type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'i64';
export const SCALAR_BYTES: Record<Scalar, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i64: 8 };

/** Decoded fields: numbers (bigints for 8-byte integers), Buffers, arrays of such objects. */
export type Fields = Record<string, unknown>;

/** A part of a record or of an element of one. */
export type Part =
  | { name: string; at: number; type: Scalar }
  /** Raw bytes of a fixed length. */
  | { name: string; at: number; bytes: number }
  /**
   * `count` elements of `of` back to back; `count` a number, or the name of an earlier
   * scalar of the same struct (then the array is the struct's variable tail); `of` may
   * depend on the struct's earlier fields.
   */
  | { name: string; at: number; count: number | string; of: Struct | ((fields: Fields) => Struct) }
  /** The bytes from `at` to the end of the record (its variable tail). */
  | { name: string; at: number; rest: true };

/**
 * A struct: its parts, and `size`: its bytes when it has no variable tail, else the
 * offset at which that tail starts (the tail is its last part).
 */
export interface Struct {
  size: number;
  parts: Part[];
}

/** A kind of record: the header's magic and version, and its whole layout (header included). */
export interface RecordKind {
  name: string;
  magic: number;
  version: number;
  layout: Struct;
}

const HEADER_PARTS: Part[] = [
  { name: 'magic', at: L.HEADER_MAGIC, type: 'u32' },
  { name: 'version', at: L.HEADER_VERSION, type: 'u32' },
  { name: 'size', at: L.HEADER_SIZE, type: 'u32' },
];
export const HEADER: Struct = { size: L.HEADER_BYTES, parts: HEADER_PARTS };

/** The u32 whose little-endian bytes are `text` (four ASCII characters). */
export function magicOf(text: string): number {
  if (!/^[\x20-\x7e]{4}$/.test(text)) throw new Error(`a magic is four ASCII characters, not ${JSON.stringify(text)}`);
  return Buffer.from(text, 'latin1').readUInt32LE(0);
}

/** The four characters of `magic`. */
export function magicText(magic: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(magic >>> 0);
  return b.toString('latin1');
}

const CIRCUIT_BUCKET: Struct = {
  size: L.CIRCUIT_BUCKET_BYTES,
  parts: [
    { name: 'number', at: L.CIRCUIT_BUCKET_NUMBER, type: 'i64' },
    { name: 'calls', at: L.CIRCUIT_BUCKET_CALLS, type: 'u32' },
    { name: 'failures', at: L.CIRCUIT_BUCKET_FAILURES, type: 'u32' },
    { name: 'slow', at: L.CIRCUIT_BUCKET_SLOW, type: 'u32' },
  ],
};

/** The fields both circuit layouts have, at the same offsets. */
const CIRCUIT_FIELDS: Part[] = [
  ...HEADER_PARTS,
  { name: 'state', at: L.CIRCUIT_STATE, type: 'u32' },
  { name: 'generation', at: L.CIRCUIT_GENERATION, type: 'u32' },
  { name: 'consecutiveFailures', at: L.CIRCUIT_CONSECUTIVE_FAILURES, type: 'u32' },
  { name: 'probesInFlight', at: L.CIRCUIT_PROBES_IN_FLIGHT, type: 'u32' },
  { name: 'probeSuccesses', at: L.CIRCUIT_PROBE_SUCCESSES, type: 'u32' },
  { name: 'inFlight', at: L.CIRCUIT_IN_FLIGHT, type: 'u32' },
  { name: 'bucketWidthMs', at: L.CIRCUIT_BUCKET_WIDTH_MS, type: 'u32' },
  { name: 'openUntilMs', at: L.CIRCUIT_OPEN_UNTIL_MS, type: 'i64' },
  { name: 'stateSinceMs', at: L.CIRCUIT_STATE_SINCE_MS, type: 'i64' },
  { name: 'probeActivityMs', at: L.CIRCUIT_PROBE_ACTIVITY_MS, type: 'i64' },
];

/**
 * circuit-breaker: one service's circuit with its sliding window, for a service with a
 * rate trigger (filters/circuit-breaker/record.ts). `state`: 0 CLOSED, 1 OPEN, 2 HALF_OPEN.
 */
export const CIRCUIT: RecordKind = {
  name: 'circuit',
  magic: L.CIRCUIT_MAGIC,
  version: L.CIRCUIT_VERSION,
  layout: {
    size: L.CIRCUIT_SIZE,
    parts: [...CIRCUIT_FIELDS, { name: 'buckets', at: L.CIRCUIT_BUCKETS, count: L.CIRCUIT_BUCKET_COUNT, of: CIRCUIT_BUCKET }],
  },
};

/** circuit-breaker: one service's circuit without a window (a service with no rate trigger); `CIRCUIT`'s fields. */
export const CIRCUIT_COMPACT: RecordKind = {
  name: 'compact circuit',
  magic: L.CIRCUIT_COMPACT_MAGIC,
  version: L.CIRCUIT_COMPACT_VERSION,
  layout: { size: L.CIRCUIT_COMPACT_SIZE, parts: CIRCUIT_FIELDS },
};

/** The fields of `value` when it is a circuit record of either layout, else null. */
export function decodeCircuit(value: Uint8Array | undefined | null): Fields | null {
  return decodeRecord(CIRCUIT, value) ?? decodeRecord(CIRCUIT_COMPACT, value);
}


/** retry: the retry budget's window (filters/retry/budget.ts). */
export const BUDGET: RecordKind = {
  name: 'retry budget',
  magic: L.BUDGET_MAGIC,
  version: L.BUDGET_VERSION,
  layout: {
    size: L.BUDGET_SIZE,
    parts: [
      ...HEADER_PARTS,
      { name: 'slotNanos', at: L.BUDGET_SLOT_NANOS, type: 'i64' },
      { name: 'newest', at: L.BUDGET_NEWEST, type: 'i64' },
      {
        name: 'slots',
        at: L.BUDGET_SLOTS,
        count: L.BUDGET_SLOT_COUNT,
        of: {
          size: L.BUDGET_SLOT_BYTES,
          parts: [
            { name: 'requests', at: L.BUDGET_SLOT_REQUESTS, type: 'u32' },
            { name: 'retries', at: L.BUDGET_SLOT_RETRIES, type: 'u32' },
          ],
        },
      },
    ],
  },
};

const PAGE_BUCKET: Struct = {
  size: L.PAGE_BUCKET_BYTES,
  parts: [
    { name: 'tokens', at: L.PAGE_BUCKET_TOKENS, type: 'i64' },
    { name: 'refilledAt', at: L.PAGE_BUCKET_REFILLED_AT, type: 'i64' },
  ],
};

/** A slot of a bucket page holding `limits` buckets (its size: PAGE_SLOT_BUCKETS + limits × PAGE_BUCKET_BYTES). */
export function pageSlot(limits: number): Struct {
  return {
    size: L.PAGE_SLOT_BUCKETS + limits * L.PAGE_BUCKET_BYTES,
    parts: [
      { name: 'rule', at: L.PAGE_SLOT_RULE, type: 'u16' },
      { name: 'fingerprint', at: L.PAGE_SLOT_FINGERPRINT, type: 'u16' },
      { name: 'keyForm', at: L.PAGE_SLOT_KEY_FORM, type: 'u8' },
      { name: 'reserved', at: L.PAGE_SLOT_RESERVED, bytes: 3 },
      { name: 'key', at: L.PAGE_SLOT_KEY, bytes: L.PAGE_SLOT_KEY_BYTES },
      { name: 'fullAt', at: L.PAGE_SLOT_FULL_AT, type: 'i64' },
      { name: 'buckets', at: L.PAGE_SLOT_BUCKETS, count: limits, of: PAGE_BUCKET },
    ],
  };
}

/** rate-limit: a page of the bucket table (filters/rate-limit/bucket-page.ts); `inUse` slots of `limits` buckets. */
export const PAGE: RecordKind = {
  name: 'bucket page',
  magic: L.PAGE_MAGIC,
  version: L.PAGE_VERSION,
  layout: {
    size: L.PAGE_SLOTS,
    parts: [
      ...HEADER_PARTS,
      { name: 'ways', at: L.PAGE_WAYS, type: 'u8' },
      { name: 'inUse', at: L.PAGE_IN_USE, type: 'u8' },
      { name: 'limits', at: L.PAGE_LIMITS, type: 'u8' },
      { name: 'reserved', at: L.PAGE_RESERVED, type: 'u8' },
      { name: 'slots', at: L.PAGE_SLOTS, count: 'inUse', of: (f) => pageSlot(Number(f.limits)) },
    ],
  },
};

/** jwt-auth: a remote provider's fetch state (filters/jwt-auth/jwks-state.ts); times in ms since the epoch. */
export const JWKS_STATE: RecordKind = {
  name: 'JWKS state',
  magic: L.JWKS_STATE_MAGIC,
  version: L.JWKS_STATE_VERSION,
  layout: {
    size: L.JWKS_STATE_SIZE,
    parts: [
      ...HEADER_PARTS,
      { name: 'failures', at: L.JWKS_STATE_FAILURES, type: 'u32' },
      { name: 'attempts', at: L.JWKS_STATE_ATTEMPTS, type: 'u32' },
      { name: 'leaseOwner', at: L.JWKS_STATE_LEASE_OWNER, type: 'u32' },
      { name: 'generation', at: L.JWKS_STATE_GENERATION, type: 'u64' },
      { name: 'fetchedAt', at: L.JWKS_STATE_FETCHED_AT, type: 'i64' },
      { name: 'refreshAt', at: L.JWKS_STATE_REFRESH_AT, type: 'i64' },
      { name: 'fetchingUntil', at: L.JWKS_STATE_FETCHING_UNTIL, type: 'i64' },
      { name: 'lastAttemptAt', at: L.JWKS_STATE_LAST_ATTEMPT_AT, type: 'i64' },
      { name: 'lastKidRefetchAt', at: L.JWKS_STATE_LAST_KID_REFETCH_AT, type: 'i64' },
    ],
  },
};

/** jwt-auth: a remote provider's keys, the JWKS document as fetched (filters/jwt-auth/jwks-state.ts). */
export const JWKS_KEYS: RecordKind = {
  name: 'JWKS keys',
  magic: L.JWKS_KEYS_MAGIC,
  version: L.JWKS_KEYS_VERSION,
  layout: {
    size: L.JWKS_KEYS_DOCUMENT,
    parts: [
      ...HEADER_PARTS,
      { name: 'generation', at: L.JWKS_KEYS_GENERATION, type: 'u64' },
      { name: 'document', at: L.JWKS_KEYS_DOCUMENT, rest: true },
    ],
  },
};

/** Every record kind of layouts.ts. */
export const RECORD_KINDS: readonly RecordKind[] = [CIRCUIT, CIRCUIT_COMPACT, BUDGET, PAGE, JWKS_STATE, JWKS_KEYS];

/** The element struct of an array part, given the fields decoded before it. */
export function elementOf(part: Extract<Part, { of: unknown }>, fields: Fields): Struct {
  return typeof part.of === 'function' ? part.of(fields) : part.of;
}

/** The element count of an array part, given the fields decoded before it. */
export function countOf(part: Extract<Part, { count: unknown }>, fields: Fields): number {
  return typeof part.count === 'number' ? part.count : Number(fields[part.count]);
}

function readScalar(b: Buffer, at: number, type: Scalar): number | bigint {
  switch (type) {
    case 'u8': return b.readUInt8(at);
    case 'u16': return b.readUInt16LE(at);
    case 'u32': return b.readUInt32LE(at);
    case 'u64': return b.readBigUInt64LE(at);
    case 'i64': return b.readBigInt64LE(at);
  }
}

function writeScalar(b: Buffer, at: number, type: Scalar, value: unknown): void {
  const v = value ?? 0;
  switch (type) {
    case 'u8': b.writeUInt8(Number(v), at); break;
    case 'u16': b.writeUInt16LE(Number(v), at); break;
    case 'u32': b.writeUInt32LE(Number(v) >>> 0, at); break;
    case 'u64': b.writeBigUInt64LE(BigInt(v as bigint | number), at); break;
    case 'i64': b.writeBigInt64LE(BigInt(v as bigint | number), at); break;
  }
}

/** Decodes `struct` at `base`; throws RangeError when `b` is too short. */
function decodeStruct(b: Buffer, base: number, struct: Struct): Fields {
  const out: Fields = {};
  for (const part of struct.parts) {
    const at = base + part.at;
    if ('type' in part) out[part.name] = readScalar(b, at, part.type);
    else if ('bytes' in part) out[part.name] = Buffer.from(b.subarray(at, at + part.bytes));
    else if ('rest' in part) out[part.name] = Buffer.from(b.subarray(at));
    else {
      const of = elementOf(part, out);
      const items: Fields[] = [];
      for (let i = 0, n = countOf(part, out); i < n; i++) items.push(decodeStruct(b, at + i * of.size, of));
      out[part.name] = items;
    }
  }
  return out;
}

/** Bytes of `struct` holding `fields` (its tail included). */
function sizeOf(struct: Struct, fields: Fields): number {
  const last = struct.parts[struct.parts.length - 1];
  if ('rest' in last) return last.at + ((fields[last.name] as Uint8Array | undefined)?.length ?? 0);
  if ('count' in last && typeof last.count === 'string') return last.at + countOf(last, fields) * elementOf(last, fields).size;
  return struct.size;
}

function encodeStruct(b: Buffer, base: number, struct: Struct, fields: Fields): void {
  for (const part of struct.parts) {
    const at = base + part.at;
    const value = fields[part.name];
    if ('type' in part) writeScalar(b, at, part.type, value);
    else if ('bytes' in part) {
      if (value !== undefined) Buffer.from(value as Uint8Array).copy(b, at, 0, part.bytes);
    } else if ('rest' in part) {
      if (value !== undefined) Buffer.from(value as Uint8Array).copy(b, at);
    } else {
      const of = elementOf(part, fields);
      const items = (value as Fields[] | undefined) ?? [];
      for (let i = 0, n = countOf(part, fields); i < n; i++) encodeStruct(b, at + i * of.size, of, items[i] ?? {});
    }
  }
}

/** The header of `value`, or null when it is shorter than one. */
export function readHeader(value: Uint8Array): { magic: number; version: number; size: number } | null {
  if (value.length < L.HEADER_BYTES) return null;
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  return { magic: b.readUInt32LE(L.HEADER_MAGIC), version: b.readUInt32LE(L.HEADER_VERSION), size: b.readUInt32LE(L.HEADER_SIZE) };
}

/**
 * The fields of `value` when it is a record of `kind` (magic, version and size as the
 * modules check them, and the length its counts imply), else null. Header fields are
 * included (`magic`, `version`, `size`).
 */
export function decodeRecord(kind: RecordKind, value: Uint8Array | undefined | null): Fields | null {
  if (!value) return null;
  const header = readHeader(value);
  if (header === null || header.magic !== kind.magic || header.version !== kind.version || header.size !== value.length) return null;
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  if (value.length < kind.layout.size) return null;
  try {
    const fields = decodeStruct(b, 0, kind.layout);
    return sizeOf(kind.layout, fields) === value.length ? fields : null;
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/** `decodeRecord`, throwing when `value` is not a record of `kind` (for tests). */
export function mustDecode(kind: RecordKind, value: Uint8Array | undefined | null): Fields {
  const fields = decodeRecord(kind, value);
  if (fields === null) {
    const header = value ? readHeader(value) : null;
    const seen = header ? `magic "${magicText(header.magic)}" version ${header.version} size ${header.size} of ${value!.length} bytes` : value ? `${value.length} bytes` : 'nothing';
    throw new Error(`not a ${kind.name} record (v${kind.version}): ${seen}`);
  }
  return fields;
}

/**
 * A record of `kind` holding `fields` (absent ones 0); the header is the kind's unless
 * `fields` gives `magic`, `version` or `size` (to make records of other layouts).
 */
export function encodeRecord(kind: RecordKind, fields: Fields = {}): Buffer {
  const size = sizeOf(kind.layout, fields);
  const b = Buffer.alloc(size);
  encodeStruct(b, 0, kind.layout, { ...fields, magic: fields.magic ?? kind.magic, version: fields.version ?? kind.version, size: fields.size ?? size });
  return b;
}
