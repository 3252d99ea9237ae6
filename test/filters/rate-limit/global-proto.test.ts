// The ShouldRateLimit messages of the rate-limit filter (filters/rate-limit/rls.ts over
// assembly/protobuf) against protobufjs, through @grpc/proto-loader and our minimal
// rls.proto (the serializers grpc-js would use): requests written in AssemblyScript are read
// by protobufjs, responses written by protobufjs are read in AssemblyScript, with unknown
// fields of every wire type (packed and unpacked repeated ones among them), nested
// durations, odd UTF-16, and malformed bytes, which must give an error and never trap.
import path from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { beforeAll, describe, expect, it } from 'vitest';
import { testModule } from '../../../harness/host/testing.ts';

/** build/test/rate-limit-rls-probe.wasm: rls-entry.ts compiled with the rate-limit target's options, when stale. */
const ensureProbe = (): Promise<string> => testModule('rate-limit', { entry: 'filters/rate-limit/__tests__/rls-entry.ts', outName: 'rate-limit-rls-probe' });

interface Probe {
  memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  output(): number;
  encodeRequest(ptr: number, units: number): number;
  decodeResponse(ptr: number, length: number): number;
  repeatedVarints(ptr: number, length: number, field: number): number;
}

let probe: Probe;
let trapped = 0;

async function loadProbe(): Promise<Probe> {
  const { readFile } = await import('node:fs/promises');
  const module = await WebAssembly.compile(await readFile(await ensureProbe()));
  // Every host function the module links answers NOT_FOUND; an abort is a trap.
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    (imports[imp.module] ??= {})[imp.name] = () => {
      if (/abort/.test(imp.name)) trapped++;
      return 1;
    };
  }
  const instance = await WebAssembly.instantiate(module, imports as WebAssembly.Imports);
  const e = instance.exports as Record<string, unknown>;
  (e._initialize as (() => void) | undefined)?.();
  return e as unknown as Probe;
}

function withInput<T>(bytes: Uint8Array, run: (ptr: number, length: number) => T): T {
  const ptr = probe.alloc(bytes.length);
  new Uint8Array(probe.memory.buffer, ptr, bytes.length).set(bytes);
  try {
    return run(ptr, bytes.length);
  } finally {
    probe.free(ptr);
  }
}

function outputBytes(length: number): Buffer {
  return Buffer.from(new Uint8Array(probe.memory.buffer, probe.output(), length));
}

/** The AssemblyScript request for `domain` and `entries`. */
function asRequest(domain: string, entries: Array<[string, string]>): Buffer {
  const text = [domain, ...entries.flat()].join('\0');
  const utf16 = Buffer.from(text, 'utf16le');
  const n = withInput(utf16, (ptr) => probe.encodeRequest(ptr, text.length));
  return outputBytes(n);
}

interface AsStatus {
  code: number;
  hasLimit: boolean;
  requestsPerUnit: number;
  unit: number;
  name: string;
  remaining: number;
  seconds: string;
  nanos: number;
}
interface AsResponse {
  overall: number;
  statuses: AsStatus[];
  quota: { present: boolean; limit: string; remaining: number; reset: number; retryAfter: number };
}

/** What the AssemblyScript decoder read from `bytes`, or null when it found them malformed. */
function asResponse(bytes: Uint8Array): AsResponse | null {
  const n = withInput(bytes, (ptr, length) => probe.decodeResponse(ptr, length));
  if (n < 0) return null;
  const raw = JSON.parse(outputBytes(n).toString('utf8'));
  const text = (codes: number[]) => String.fromCharCode(...codes);
  for (const s of raw.statuses) s.name = text(s.name);
  raw.quota.limit = text(raw.quota.limit);
  return raw;
}

const definition = loadSync(path.join(import.meta.dirname, 'rls.proto'), { keepCase: true, longs: String, enums: Number, defaults: true });
const method = (definition['envoy.service.ratelimit.v3.RateLimitService'] as Record<string, any>).ShouldRateLimit;
const encodeResponse = (o: unknown): Buffer => method.responseSerialize(o);
const decodeResponse = (b: Uint8Array): any => method.responseDeserialize(Buffer.from(b));
const decodeRequest = (b: Uint8Array): any => method.requestDeserialize(Buffer.from(b));

/**
 * What protobufjs read, in the shape of `AsStatus` (absent sub-messages as their defaults;
 * enums as the uint32 rls.ts keeps, protobufjs giving int32).
 */
function expected(o: any): Pick<AsResponse, 'overall' | 'statuses'> {
  return {
    overall: o.overall_code >>> 0,
    statuses: o.statuses.map((s: any) => ({
      code: s.code >>> 0,
      hasLimit: s.current_limit !== null,
      requestsPerUnit: s.current_limit?.requests_per_unit ?? 0,
      unit: (s.current_limit?.unit ?? 0) >>> 0,
      name: s.current_limit?.name ?? '',
      remaining: s.limit_remaining,
      seconds: s.duration_until_reset?.seconds ?? '0',
      nanos: s.duration_until_reset?.nanos ?? 0,
    })),
  };
}

// --- raw protobuf pieces for unknown fields (protobuf.dev "Encoding") -------------------

function varint(x: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, x);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const lenField = (field: number, body: number[] | Uint8Array) => [...tag(field, 2), ...varint(BigInt(body.length)), ...body];
/** One unknown field of each wire type the filter must skip: varint, fixed64, length-delimited (a nested message), fixed32, packed and unpacked repeated. */
function unknownFields(base: number): number[] {
  return [
    ...tag(base, 0), ...varint(-1n), // a 10-byte varint
    ...tag(base + 1, 1), 1, 2, 3, 4, 5, 6, 7, 8,
    ...lenField(base + 2, [...tag(1, 0), 7, ...lenField(2, [...tag(1, 5), 9, 9, 9, 9])]),
    ...tag(base + 3, 5), 0xff, 0xff, 0xff, 0xff,
    ...lenField(base + 4, [...varint(1n), ...varint(300n), ...varint(1n << 40n)]), // packed
    ...tag(base + 4, 0), ...varint(5n), ...tag(base + 4, 0), ...varint(6n), // unpacked, same field
  ];
}

const SAMPLE = {
  overall_code: 2,
  statuses: [
    { code: 1, current_limit: { name: 'per user', requests_per_unit: 100, unit: 2 }, limit_remaining: 7, duration_until_reset: { seconds: 42, nanos: 500_000_000 } },
    { code: 2, current_limit: { requests_per_unit: 10, unit: 1 }, limit_remaining: 0, duration_until_reset: { seconds: 3, nanos: 0 } },
    { code: 1 },
  ],
};

beforeAll(async () => {
  probe = await loadProbe();
}, 120_000);

describe('RateLimitRequest written in AssemblyScript, read by protobufjs', () => {
  it('domain and one descriptor with its entries in order', () => {
    const bytes = asRequest('mesh', [['x-user-id', 'alice'], ['remote_address', '198.51.100.7'], ['generic_key', 'checkout']]);
    expect(decodeRequest(bytes)).toEqual({
      domain: 'mesh',
      descriptors: [{ entries: [{ key: 'x-user-id', value: 'alice' }, { key: 'remote_address', value: '198.51.100.7' }, { key: 'generic_key', value: 'checkout' }] }],
      hits_addend: 0,
    });
    // Byte for byte what protobufjs writes for the same message (lengths as shortest varints).
    expect(bytes).toEqual(method.requestSerialize({ domain: 'mesh', descriptors: [{ entries: [{ key: 'x-user-id', value: 'alice' }, { key: 'remote_address', value: '198.51.100.7' }, { key: 'generic_key', value: 'checkout' }] }] }));
  });

  it('an empty value is left out (proto3 default) and reads back as ""', () => {
    const bytes = asRequest('d', [['x-tenant', '']]);
    expect(decodeRequest(bytes).descriptors[0].entries).toEqual([{ key: 'x-tenant', value: '' }]);
  });

  it('non-ASCII text as UTF-8, an unpaired surrogate as U+FFFD (Go refuses invalid UTF-8 in a string)', () => {
    const bytes = asRequest('dömäin', [['x-name', 'Zoë 😀 ☃'], ['x-bad', 'a\ud800b\udc00c']]);
    const request = decodeRequest(bytes);
    expect(request.domain).toBe('dömäin');
    expect(request.descriptors[0].entries).toEqual([{ key: 'x-name', value: 'Zoë 😀 ☃' }, { key: 'x-bad', value: 'a\ufffdb\ufffdc' }]);
    expect(Buffer.from(bytes).includes(Buffer.from([0xed, 0xa0, 0x80]))).toBe(false); // no WTF-8 surrogate bytes
  });

  it('lengths past one varint byte: a descriptor of 2 KiB and a value of 20000 characters', () => {
    const long = 'v'.repeat(20000);
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < 8; i++) entries.push([`k${i}`, i === 7 ? long : 'x'.repeat(250)]);
    const request = decodeRequest(asRequest('mesh', entries));
    expect(request.descriptors[0].entries.map((e: any) => e.value.length)).toEqual([250, 250, 250, 250, 250, 250, 250, 20000]);
  });

  it('random requests agree with protobufjs byte for byte', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const alphabet = ['a', 'Z', '0', '-', ' ', 'é', '€', '😀', '\u0001', '\u007f'];
    const word = () => Array.from({ length: rand(200) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let t = 0; t < 200; t++) {
      const domain = word();
      const entries: Array<[string, string]> = Array.from({ length: 1 + rand(8) }, () => [word() || 'k', word()]);
      const bytes = asRequest(domain, entries);
      // protobufjs writes a "" it is given; proto3 (and rls.ts) leave defaults out.
      const reference = { ...(domain ? { domain } : {}), descriptors: [{ entries: entries.map(([key, value]) => (value ? { key, value } : { key })) }] };
      expect(bytes).toEqual(method.requestSerialize(reference));
    }
  });
});

describe('RateLimitResponse written by protobufjs, read in AssemblyScript', () => {
  it('codes, limits, remaining and nested durations', () => {
    const got = asResponse(encodeResponse(SAMPLE))!;
    expect(got).not.toBeNull();
    expect({ overall: got.overall, statuses: got.statuses }).toEqual(expected(decodeResponse(encodeResponse(SAMPLE))));
    expect(got.statuses[0]).toMatchObject({ name: 'per user', requestsPerUnit: 100, unit: 2, remaining: 7, seconds: '42', nanos: 500_000_000 });
    // The least remaining (the OVER_LIMIT status) is reported; retry-after is its reset, rounded up.
    expect(got.quota).toEqual({ present: true, limit: '10, 100;w=60;name="per user", 10;w=1', remaining: 0, reset: 3, retryAfter: 3 });
  });

  it('an empty message: UNKNOWN, no statuses (the filter treats it as no decision)', () => {
    expect(asResponse(new Uint8Array(0))).toMatchObject({ overall: 0, statuses: [], quota: { present: false } });
  });

  it('negative and large durations, codes and units outside the enums', () => {
    const o = {
      overall_code: 7,
      statuses: [{ code: 9, current_limit: { requests_per_unit: 4294967295, unit: 99 }, limit_remaining: 4294967295, duration_until_reset: { seconds: '-5', nanos: -1 } },
        { code: 2, duration_until_reset: { seconds: '9223372036854775807', nanos: 999_999_999 } }],
    };
    const got = asResponse(encodeResponse(o))!;
    expect({ overall: got.overall, statuses: got.statuses }).toEqual(expected(decodeResponse(encodeResponse(o))));
    expect(got.statuses[0]).toMatchObject({ seconds: '-5', nanos: -1, requestsPerUnit: 4294967295, unit: 99 });
  });

  it('unknown fields of every wire type, at every level, are skipped', () => {
    const limit = [...unknownFields(10), ...tag(1, 0), ...varint(50n), ...tag(2, 0), 3, ...lenField(3, Buffer.from('hourly')), ...unknownFields(20)];
    const duration = [...tag(1, 0), ...varint(61n), ...unknownFields(30), ...tag(2, 0), ...varint(5n)];
    const status = [...unknownFields(5), ...tag(1, 0), 1, ...lenField(2, limit), ...tag(3, 0), ...varint(49n), ...lenField(4, duration), ...unknownFields(40)];
    // Fields Envoy's API has and the filter ignores: headers to add (3, 4), raw_body (5), metadata (6), quota (7).
    const envoyExtras = [...lenField(3, lenField(1, [...lenField(1, Buffer.from('x')), ...lenField(2, Buffer.from('y'))])), ...lenField(5, Buffer.from('body')), ...lenField(7, [...tag(1, 0), 3])];
    const message = Uint8Array.from([...unknownFields(100), ...tag(1, 0), 1, ...lenField(2, status), ...envoyExtras, ...unknownFields(200)]);
    const reference = decodeResponse(message); // protobufjs reads it too
    const got = asResponse(message)!;
    expect(got).not.toBeNull();
    expect({ overall: got.overall, statuses: got.statuses }).toEqual(expected(reference));
    expect(got.statuses[0]).toMatchObject({ code: 1, name: 'hourly', requestsPerUnit: 50, unit: 3, remaining: 49, seconds: '61', nanos: 5 });
  });

  it('a field repeated where one is expected: the last scalar wins, sub-messages merge (protobuf.dev "Last One Wins")', () => {
    const status = [...tag(1, 0), 2, ...tag(1, 0), 1, ...lenField(2, [...tag(1, 0), 5]), ...lenField(2, [...tag(2, 0), 2]), ...tag(3, 0), 9, ...tag(3, 0), 8];
    const message = Uint8Array.from([...tag(1, 0), 2, ...tag(1, 0), 1, ...lenField(2, status)]);
    const got = asResponse(message)!;
    expect(got.overall).toBe(decodeResponse(message).overall_code);
    // protobufjs replaces a repeated sub-message instead of merging it; Go and C++ merge, as rls.ts does.
    expect(got.statuses[0]).toMatchObject({ code: 1, hasLimit: true, requestsPerUnit: 5, unit: 2, remaining: 8 });
  });

  it('more statuses than are kept: every one is checked, the first 16 kept', () => {
    const many = { overall_code: 1, statuses: Array.from({ length: 40 }, (_, i) => ({ code: 1, limit_remaining: i })) };
    expect(asResponse(encodeResponse(many))!.statuses.map((s) => s.remaining)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const bytes = encodeResponse(many);
    const broken = Uint8Array.from([...bytes, ...lenField(2, [...tag(3, 0)])]); // the 41st status ends inside a field
    expect(asResponse(broken)).toBeNull();
  });

  it('random responses agree with protobufjs', () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let t = 0; t < 300; t++) {
      const o = {
        overall_code: rand(3),
        statuses: Array.from({ length: rand(5) }, () => ({
          code: rand(3),
          current_limit: rand(2) ? { name: rand(2) ? 'n' + rand(1000) : '', requests_per_unit: rand(1 << 30), unit: rand(8) } : null,
          limit_remaining: rand(1 << 30),
          duration_until_reset: rand(2) ? { seconds: String(rand(1 << 30)), nanos: rand(1_000_000_000) } : null,
        })),
      };
      const bytes = encodeResponse(o);
      const got = asResponse(bytes)!;
      expect({ overall: got.overall, statuses: got.statuses }).toEqual(expected(decodeResponse(bytes)));
    }
  });
});

describe('malformed bytes: an error, never a trap', () => {
  it('every truncation of a response is read as protobufjs reads it: malformed where it fails, the same fields where it succeeds', () => {
    const full = Uint8Array.from([...encodeResponse(SAMPLE), ...unknownFields(50)]);
    let malformed = 0;
    for (let n = 0; n < full.length; n++) {
      const cut = full.subarray(0, n);
      let reference: any = null;
      try {
        reference = decodeResponse(cut);
      } catch {
        reference = null;
      }
      const got = asResponse(cut);
      if (reference === null) {
        expect(got, `prefix of ${n} bytes`).toBeNull();
        malformed++;
      } else {
        expect(got, `prefix of ${n} bytes`).not.toBeNull();
        expect({ overall: got!.overall, statuses: got!.statuses }).toEqual(expected(reference));
      }
    }
    expect(malformed).toBeGreaterThan(full.length / 2);
    expect(trapped).toBe(0);
  });

  it.each([
    ['a varint of 11 bytes', [...tag(1, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['a length past the end', [...tag(2, 2), 0x05, 0x08, 0x01]],
    ['a length of 2^63', [...tag(2, 2), ...varint(1n << 63n)]],
    ['a group (wire type 3)', [...tag(9, 3), ...tag(9, 4)]],
    ['wire type 6', [...tag(9, 6), 0]],
    ['wire type 7', [...tag(9, 7), 0]],
    ['field number 0', [0x00, 0x01]],
    ['a key past 32 bits', [...varint(1n << 35n), 0]],
    ['a known varint field as length-delimited', [...lenField(1, [1])]],
    ['statuses as a varint', [...tag(2, 0), 1]],
    ['a duration as a varint', [...lenField(2, [...tag(4, 0), 1])]],
    ['a fixed64 cut short', [...tag(9, 1), 1, 2, 3]],
    ['a fixed32 cut short', [...tag(9, 5), 1]],
    ['a nested length past its parent', [...lenField(2, [...tag(2, 2), 0x10, 0])]],
  ])('%s', (_name, bytes) => {
    expect(asResponse(Uint8Array.from(bytes))).toBeNull();
    expect(trapped).toBe(0);
  });

  it('random bytes: whatever the AssemblyScript decoder accepts, protobufjs reads the same', () => {
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const base = Uint8Array.from(encodeResponse(SAMPLE));
    let accepted = 0;
    for (let t = 0; t < 3000; t++) {
      const bytes = t % 2 === 0 ? Uint8Array.from({ length: rand(40) }, () => rand(256)) : base.map((b) => (rand(12) === 0 ? rand(256) : b));
      const got = asResponse(bytes);
      if (got === null) continue;
      accepted++;
      // Names are left out: invalid UTF-8 is replaced differently by the two decoders.
      const strip = (r: Pick<AsResponse, 'overall' | 'statuses'>) => ({ overall: r.overall, statuses: r.statuses.map(({ name: _n, ...s }) => s) });
      expect(strip(got), Buffer.from(bytes).toString('hex')).toEqual(strip(expected(decodeResponse(bytes))));
    }
    expect(accepted).toBeGreaterThan(0);
    expect(trapped).toBe(0);
  });
});

describe('repeated varints, packed or not (protobuf.dev: parsers accept both)', () => {
  function values(bytes: number[], field: number): string[] | null {
    const n = withInput(Uint8Array.from(bytes), (ptr, length) => probe.repeatedVarints(ptr, length, field));
    return n < 0 ? null : JSON.parse(outputBytes(n).toString('utf8'));
  }

  it('packed, unpacked and both mixed, in order', () => {
    const packed = lenField(4, [...varint(1n), ...varint(300n), ...varint((1n << 64n) - 1n)]);
    expect(values(packed, 4)).toEqual(['1', '300', '18446744073709551615']);
    expect(values([...tag(4, 0), 7, ...tag(4, 0), ...varint(128n)], 4)).toEqual(['7', '128']);
    expect(values([...tag(4, 0), 7, ...packed, ...tag(1, 0), 1, ...tag(4, 0), 8], 4)).toEqual(['7', '1', '300', '18446744073709551615', '8']);
    expect(values(lenField(4, []), 4)).toEqual([]);
  });

  it('a packed run cut inside a varint is malformed', () => {
    expect(values(lenField(4, [0x96]), 4)).toBeNull();
    expect(trapped).toBe(0);
  });
});
