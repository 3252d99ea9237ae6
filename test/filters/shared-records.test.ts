// The records the filters keep in proxy-wasm shared data (assembly/shared): the
// TypeScript codec (harness/shared-record.ts) against the layout table
// (assembly/shared/layouts.ts) and against what each module writes, and the rollout rule
// (assembly/shared/index.ts): a value that is not a record of the reader's layout —
// another layout version of the same kind, another kind, the format of the build before
// the common header — is read as reset, never decoded, never a trap, and the next write
// replaces it. Each rollout case has its control: the same fields under the current
// header are read, and change what the filter does, so a misread would show.
import { beforeAll, describe, expect, it } from 'vitest';
import { WasmEmulator, type EmulatorOptions } from '../../harness/host/emulator.ts';
import * as L from '../../assembly/shared/layouts.ts';
import {
  BUDGET, CIRCUIT, CIRCUIT_COMPACT, HEADER, JWKS_KEYS, JWKS_STATE, PAGE, RECORD_KINDS, SCALAR_BYTES, type Fields, type RecordKind, type Struct,
  countOf, decodeRecord, elementOf, encodeRecord, magicOf, magicText, mustDecode, pageSlot,
} from '../../harness/shared-record.ts';
import { testModule } from '../../harness/host/testing.ts';
import { claims, jwksOf, makeKey, sign, type SigningKey } from './jwt-auth/harness.ts';

/** [start, end) of each part of `struct` in order, recursing into arrays (`fields` gives variable counts). */
function extents(struct: Struct, fields: Fields = {}): Array<{ name: string; at: number; end: number; tail: boolean }> {
  const out: Array<{ name: string; at: number; end: number; tail: boolean }> = [];
  for (const part of [...struct.parts].sort((a, b) => a.at - b.at)) {
    const { name, at } = part;
    if ('type' in part) out.push({ name, at, end: at + SCALAR_BYTES[part.type], tail: false });
    else if ('bytes' in part) out.push({ name, at, end: at + part.bytes, tail: false });
    else if ('rest' in part) out.push({ name, at, end: Infinity, tail: true });
    else out.push({ name, at, end: at + countOf(part, fields) * elementOf(part, fields).size, tail: typeof part.count === 'string' });
  }
  return out;
}

/** The gaps and overlaps of `struct` (empty when its parts tile it), each element struct included. */
function tilingProblems(struct: Struct, fields: Fields = {}, path = ''): string[] {
  const problems: string[] = [];
  const parts = extents(struct, fields);
  let cursor = 0;
  for (const [i, p] of parts.entries()) {
    if (p.at !== cursor) problems.push(`${path}${p.name} at ${p.at}, expected ${cursor}`);
    if (p.tail) {
      if (i !== parts.length - 1) problems.push(`${path}${p.name}: a variable tail must come last`);
      if (p.at !== struct.size) problems.push(`${path}${p.name}: the tail starts at ${p.at}, the fixed part ends at ${struct.size}`);
      cursor = struct.size;
    } else cursor = p.end;
  }
  if (cursor !== struct.size) problems.push(`${path}parts end at ${cursor}, the struct has ${struct.size} bytes`);
  for (const part of struct.parts) {
    if (!('of' in part)) continue;
    problems.push(...tilingProblems(elementOf(part, fields), {}, `${path}${part.name}[].`));
  }
  return problems;
}

describe('the codec against assembly/shared/layouts.ts', () => {
  it('tiles every record exactly: header first, no gap, no overlap, the record size', () => {
    expect(tilingProblems(HEADER)).toEqual([]);
    for (const kind of RECORD_KINDS) {
      expect(tilingProblems(kind.layout, { limits: 2 }), kind.name).toEqual([]);
      expect(kind.layout.parts.slice(0, 3).map((p) => [p.name, p.at]), kind.name).toEqual([['magic', 0], ['version', 4], ['size', 8]]);
    }
    for (const limits of [1, 2, 3, 8]) expect(tilingProblems(pageSlot(limits))).toEqual([]);
    expect(CIRCUIT.layout.size).toBe(L.CIRCUIT_SIZE);
    expect(CIRCUIT_COMPACT.layout.size).toBe(L.CIRCUIT_COMPACT_SIZE);
    // The compact circuit is the windowed one's fields, at the same offsets, without the window.
    expect(CIRCUIT.layout.parts.slice(0, -1)).toEqual(CIRCUIT_COMPACT.layout.parts);
    expect(L.CIRCUIT_COMPACT_SIZE).toBe(L.CIRCUIT_BUCKETS);
    expect(BUDGET.layout.size).toBe(L.BUDGET_SIZE);
    expect(JWKS_STATE.layout.size).toBe(L.JWKS_STATE_SIZE);
  });

  it('catches a field that does not tile (the check can fail)', () => {
    const broken: Struct = { size: 16, parts: [...HEADER.parts, { name: 'x', at: 13, type: 'u16' }] };
    expect(tilingProblems(broken)).toEqual(['x at 13, expected 12', 'parts end at 15, the struct has 16 bytes']);
    const overlapping: Struct = { size: 20, parts: [...HEADER.parts, { name: 'a', at: 12, type: 'i64' }, { name: 'b', at: 16, type: 'u32' }] };
    expect(tilingProblems(overlapping)).toEqual(['b at 16, expected 20']);
  });

  it('names every kind with four distinct ASCII bytes, each with its own layout version', () => {
    expect(RECORD_KINDS.map((k) => magicText(k.magic))).toEqual(['CBRK', 'CBRC', 'RTBG', 'RLPG', 'JWKS', 'JWKD']);
    expect(new Set(RECORD_KINDS.map((k) => k.magic)).size).toBe(RECORD_KINDS.length);
    for (const k of RECORD_KINDS) expect(magicOf(magicText(k.magic))).toBe(k.magic);
    // Versions start at 1 (JWKS at 2: their records had a version field but no size before the common header).
    expect(RECORD_KINDS.map((k) => k.version)).toEqual([1, 1, 1, 1, 2, 2]);
  });

  it('round-trips records, and reads another version, kind or size as no record', () => {
    const samples: Array<[RecordKind, Fields]> = [
      [CIRCUIT, { state: 2, generation: 7, inFlight: 3, openUntilMs: 123n, buckets: [{ number: 5n, calls: 4, failures: 1, slow: 2 }] }],
      [CIRCUIT_COMPACT, { state: 1, generation: 7, consecutiveFailures: 2, openUntilMs: 123n }],
      [BUDGET, { slotNanos: 1_000_000_000n, newest: 42n, slots: [{ requests: 9, retries: 2 }] }],
      [PAGE, { ways: 4, inUse: 1, limits: 2, slots: [{ rule: 3, fingerprint: 0xbeef, keyForm: 5, key: Buffer.from('alice'), fullAt: 77n, buckets: [{ tokens: 5n, refilledAt: 6n }, { tokens: 7n, refilledAt: 8n }] }] }],
      [JWKS_STATE, { generation: 3n, leaseOwner: 0xdeadbeef, fetchingUntil: 99n }],
      [JWKS_KEYS, { generation: 3n, document: Buffer.from('{"keys":[]}') }],
    ];
    for (const [kind, fields] of samples) {
      const record = encodeRecord(kind, fields);
      const back = mustDecode(kind, record);
      expect(back.size).toBe(record.length);
      expect(encodeRecord(kind, back)).toEqual(record);
      for (const other of RECORD_KINDS) if (other !== kind) expect(decodeRecord(other, record)).toBeNull();
      expect(decodeRecord(kind, encodeRecord(kind, { ...fields, version: kind.version + 1 }))).toBeNull();
      expect(decodeRecord(kind, encodeRecord(kind, { ...fields, version: kind.version - 1 }))).toBeNull();
      expect(decodeRecord(kind, Buffer.concat([record, Buffer.alloc(1)]))).toBeNull();
      expect(decodeRecord(kind, record.subarray(0, record.length - 1))).toBeNull();
    }
    expect(mustDecode(PAGE, encodeRecord(PAGE, samples.find(([k]) => k === PAGE)![1])).slots).toMatchObject([{ rule: 3, fingerprint: 0xbeef, fullAt: 77n }]);
  });
});

// ---- the modules ----------------------------------------------------------------------

const START = Date.UTC(2026, 0, 1);
const wasm: Record<string, string> = {};
let key: SigningKey;
beforeAll(async () => {
  for (const name of ['circuit-breaker', 'retry', 'rate-limit', 'jwt-auth']) wasm[name] = await testModule(name);
  key = await makeKey('ES256', 'k1');
}, 600_000);

function emulator(name: string, config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  return WasmEmulator.create({ wasm: wasm[name], name, rootId: name, vmId: name, pluginConfiguration: JSON.stringify(config), startTimeMs: START, ...options });
}

/** One request through the filter: its local reply status (undefined: it went on, or waits), the request headers it left. */
function send(emu: WasmEmulator, path: string, headers: Record<string, string> = {}, upstream = 200): { id: number; reply?: number; status: number; request: Map<string, string> } {
  const id = emu.initializeHttpContext();
  const status = emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': path, ':authority': 'mesh', ':scheme': 'http', ...headers }, true);
  const request = new Map(emu.getCurrentRequestHeaders(id));
  const reply = emu.getSentLocalResponse(id)?.status;
  if (reply === undefined && status === 0) {
    emu.callOnResponseHeaders(id, { ':status': String(upstream) }, true);
    emu.completeHttpContext(id);
  }
  return { id, reply, status, request };
}

/** `fields` with the header of another layout version of `kind` (the rollout case), or of `kind` itself (the control). */
const older = (kind: RecordKind, fields: Fields) => encodeRecord(kind, { ...fields, version: kind.version - 1 });
const current = (kind: RecordKind, fields: Fields) => encodeRecord(kind, { ...fields, version: kind.version });

describe('circuit-breaker records', () => {
  const KEY = 'circuit-breaker/circuit_breaker/bureau';
  // No rate trigger: the compact record (no window).
  const CONFIG = { services: [{ name: 'bureau', match: { prefix: '/b' }, failure_threshold: 3, open_duration: '60s' }] };
  // A rate trigger: the record with the window.
  const WINDOWED = { services: [{ name: 'bureau', match: { prefix: '/b' }, failure_rate_threshold: 50, minimum_requests: 4, window: '10s', open_duration: '60s' }] };

  it('the module writes what the codec reads: the compact record without a rate trigger', async () => {
    const emu = await emulator('circuit-breaker', CONFIG);
    expect(emu.getSharedData(KEY)?.value.length).toBe(L.CIRCUIT_COMPACT_SIZE);
    expect(mustDecode(CIRCUIT_COMPACT, emu.getSharedData(KEY)?.value)).toMatchObject({ state: 0, consecutiveFailures: 0, inFlight: 0 });
    send(emu, '/b', {}, 503);
    send(emu, '/b', {}, 503);
    expect(mustDecode(CIRCUIT_COMPACT, emu.getSharedData(KEY)?.value)).toMatchObject({ state: 0, generation: 0, consecutiveFailures: 2, inFlight: 0 });
    send(emu, '/b', {}, 503);
    expect(mustDecode(CIRCUIT_COMPACT, emu.getSharedData(KEY)?.value)).toMatchObject({ state: 1, generation: 1 });
  });

  it('the module writes what the codec reads: the window with a rate trigger', async () => {
    const emu = await emulator('circuit-breaker', WINDOWED);
    expect(emu.getSharedData(KEY)?.value.length).toBe(L.CIRCUIT_SIZE);
    send(emu, '/b', {}, 503);
    send(emu, '/b', {}, 200);
    const r = mustDecode(CIRCUIT, emu.getSharedData(KEY)?.value);
    expect(r).toMatchObject({ state: 0, generation: 0, bucketWidthMs: 1000 });
    const buckets = r.buckets as Array<{ calls: number; failures: number }>;
    expect(buckets).toHaveLength(L.CIRCUIT_BUCKET_COUNT);
    expect(buckets.reduce((n, b) => n + b.calls, 0)).toBe(2);
    expect(buckets.reduce((n, b) => n + b.failures, 0)).toBe(1);
    send(emu, '/b', {}, 503);
    send(emu, '/b', {}, 503); // 3 of 4 failed: ≥ 50 %
    expect(mustDecode(CIRCUIT, emu.getSharedData(KEY)?.value)).toMatchObject({ state: 1, generation: 1 });
  });

  for (const [name, config, kind, other] of [
    ['compact', CONFIG, CIRCUIT_COMPACT, CIRCUIT],
    ['windowed', WINDOWED, CIRCUIT, CIRCUIT_COMPACT],
  ] as const) {
    it(`an OPEN ${name} circuit of another layout version, the other circuit layout, another kind or the pre-header build is read as CLOSED and replaced`, async () => {
      const emu = await emulator('circuit-breaker', config);
      const open = { ...mustDecode(kind, emu.getSharedData(KEY)?.value), state: 1, generation: 5, openUntilMs: BigInt(START + 3_600_000), stateSinceMs: BigInt(START) };
      // Control: the same fields under the current header hold the circuit open.
      emu.setSharedData(KEY, current(kind, open));
      expect(send(emu, '/b').reply).toBe(503);
      // The build before the common header: "CB01", state at 4, OPEN until at 32, 256 bytes.
      const cb01 = Buffer.alloc(256);
      cb01.write('CB01', 0, 'latin1');
      cb01.writeUInt32LE(1, 4);
      cb01.writeBigInt64LE(BigInt(START + 3_600_000), 32);
      const others = [older(kind, open), encodeRecord(kind, { ...open, version: kind.version + 1 }), encodeRecord(other, open), encodeRecord(BUDGET, {}), cb01];
      for (const value of others) {
        emu.setSharedData(KEY, value);
        expect(send(emu, '/b').reply).toBeUndefined(); // admitted: CLOSED (a success in CLOSED writes no count)
        send(emu, '/b', {}, 503); // a failure is written over it: a fresh circuit's first
        expect(mustDecode(kind, emu.getSharedData(KEY)?.value)).toMatchObject({ state: 0, generation: 0, consecutiveFailures: 1 });
      }
      expect(emu.vmFailed).toBe(false);
    });
  }
});

describe('retry budget records', () => {
  const KEY = 'retry.budget';
  const CONFIG = { policies: [{ name: 'reads', max_retries: 5, retry_on: ['5xx'] }], budget: { ratio: 0, min_retries_per_second: 1, window: '10s' } };
  const granted = (emu: WasmEmulator) => send(emu, '/').request.get('x-envoy-max-retries');

  it('the module writes what the codec reads', async () => {
    const emu = await emulator('retry', CONFIG);
    expect(mustDecode(BUDGET, emu.getSharedData(KEY)?.value)).toMatchObject({ slotNanos: 1_000_000_000n, newest: -1n });
    expect(granted(emu)).toBe('5');
    const r = mustDecode(BUDGET, emu.getSharedData(KEY)?.value);
    const slots = r.slots as Array<{ requests: number; retries: number }>;
    expect(slots.reduce((n, s) => n + s.requests, 0)).toBe(1);
    expect(slots.reduce((n, s) => n + s.retries, 0)).toBe(5);
    expect(slots[Number((r.newest as bigint) % BigInt(L.BUDGET_SLOT_COUNT))].retries).toBe(5);
  });

  it('a spent budget of another layout version, another kind or the pre-header build is read as an empty window', async () => {
    const emu = await emulator('retry', CONFIG);
    expect(granted(emu)).toBe('5');
    const r = mustDecode(BUDGET, emu.getSharedData(KEY)?.value);
    const spent = { ...r, slots: (r.slots as Fields[]).map(() => ({ requests: 1, retries: 1000 })) };
    // Control: the same fields under the current header leave no retry.
    emu.setSharedData(KEY, current(BUDGET, spent));
    expect(granted(emu)).toBe('0');
    // The build before the common header: "RTB1", u32 slot count, i64 slot width, i64 newest, 10 × (u32, u32); 104 bytes.
    const rtb1 = Buffer.alloc(104);
    rtb1.write('RTB1', 0, 'latin1');
    rtb1.writeUInt32LE(10, 4);
    rtb1.writeBigInt64LE(r.slotNanos as bigint, 8);
    rtb1.writeBigInt64LE(r.newest as bigint, 16);
    for (let i = 0; i < 10; i++) rtb1.writeUInt32LE(1000, 24 + i * 8 + 4);
    for (const value of [older(BUDGET, spent), encodeRecord(CIRCUIT, {}), rtb1]) {
      emu.setSharedData(KEY, value);
      expect(granted(emu)).toBe('5');
      const slots = mustDecode(BUDGET, emu.getSharedData(KEY)?.value).slots as Array<{ requests: number }>;
      expect(slots.reduce((n, s) => n + s.requests, 0)).toBe(1);
    }
    expect(emu.vmFailed).toBe(false);
  });
});

describe('rate-limit bucket pages', () => {
  const CONFIG = { max_keys: 1024, rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 2, fill_interval: '60s' }] }] };
  const status = (emu: WasmEmulator) => send(emu, '/', { 'x-user-id': 'alice' }).reply ?? 200;
  /** The page entry holding a slot, and its fields. */
  function usedPage(emu: WasmEmulator): [string, Fields] {
    const used = emu.shared.data.keys('rate-limit').map((k) => [k, decodeRecord(PAGE, emu.getSharedData(k)?.value)] as const).filter(([, p]) => p !== null && Number(p.inUse) > 0);
    expect(used).toHaveLength(1);
    return used[0] as [string, Fields];
  }

  it('the module writes what the codec reads', async () => {
    const emu = await emulator('rate-limit', CONFIG);
    const pages = emu.shared.data.keys('rate-limit');
    expect(pages.length).toBeGreaterThan(0);
    for (const k of pages) expect(mustDecode(PAGE, emu.getSharedData(k)?.value)).toMatchObject({ inUse: 0, limits: 1 });
    expect(status(emu)).toBe(200);
    const [, page] = usedPage(emu);
    const slot = (page.slots as Fields[])[0];
    expect(slot).toMatchObject({ rule: 0, keyForm: 7 }); // the descriptor's 7 bytes: a tag, a length, "alice"
    expect((slot.key as Buffer).subarray(0, 7).toString('latin1')).toContain('alice');
    expect((slot.buckets as Fields[])).toHaveLength(1);
  });

  it('an empty bucket of another layout version, another kind or the pre-header build is read as an empty page', async () => {
    const emu = await emulator('rate-limit', CONFIG);
    expect([status(emu), status(emu), status(emu)]).toEqual([200, 200, 429]);
    const [entry, page] = usedPage(emu);
    // Control: the page as written (its bucket empty) denies again under the current header.
    emu.setSharedData(entry, current(PAGE, page));
    expect(status(emu)).toBe(429);
    // The build before the common header: "RLP1", u8 ways, in use, limits, 0, then the slots.
    const rlp1 = Buffer.concat([Buffer.from('RLP1', 'latin1'), Buffer.from([Number(page.ways), 1, 1, 0]), encodeRecord(PAGE, page).subarray(L.PAGE_SLOTS)]);
    for (const value of [older(PAGE, page), encodeRecord(BUDGET, {}), rlp1]) {
      emu.setSharedData(entry, value);
      expect(status(emu)).toBe(200);
      expect(mustDecode(PAGE, emu.getSharedData(entry)?.value)).toMatchObject({ inUse: 1 });
    }
    expect(emu.vmFailed).toBe(false);
  });
});

describe('jwt-auth JWKS records', () => {
  const URI = 'http://idp.internal:8080/.well-known/jwks.json';
  const STATE = `jwt-auth/idp/${URI}/state`;
  const KEYS = `jwt-auth/idp/${URI}/keys`;
  const CONFIG = {
    providers: { idp: { issuer: 'https://auth.mesh.test', audiences: ['mesh-api'], remote_jwks: { http_uri: { uri: URI, cluster: 'jwks', timeout: '2s' }, cache_duration: '600s' } } },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'idp' } }],
  };
  const create = () => emulator('jwt-auth', CONFIG, { clusters: ['jwks'] });
  const document = () => Buffer.from(JSON.stringify(jwksOf([key])));
  const authorized = async (emu: WasmEmulator) => send(emu, '/', { authorization: `Bearer ${await sign(key, claims(START / 1000))}` });

  it('the module writes what the codec reads', async () => {
    const emu = await create();
    const ex = await authorized(emu);
    expect(ex.status).toBe(4); // waiting for the keys
    const leased = mustDecode(JWKS_STATE, emu.getSharedData(STATE)?.value);
    expect(leased).toMatchObject({ generation: 0n, attempts: 0, fetchingUntil: BigInt(START + 2000 + 1000) });
    emu.respondHttpCall({ status: 200, body: document().toString() });
    expect(mustDecode(JWKS_STATE, emu.getSharedData(STATE)?.value)).toMatchObject({ generation: 1n, attempts: 1, failures: 0, fetchingUntil: 0n, fetchedAt: BigInt(START) });
    const keys = mustDecode(JWKS_KEYS, emu.getSharedData(KEYS)?.value);
    expect(keys.generation).toBe(1n);
    expect((keys.document as Buffer).equals(document())).toBe(true);
  });

  it('a lease of another layout version, another kind or the pre-header build is read as no lease: the worker fetches', async () => {
    const held = { generation: 0n, leaseOwner: 7, fetchingUntil: BigInt(START + 3_600_000), lastAttemptAt: BigInt(START) };
    // Control: the same fields under the current header: another worker is fetching, so this one waits without a call.
    const control = await create();
    control.setSharedData(STATE, current(JWKS_STATE, held));
    expect((await authorized(control)).status).toBe(4);
    expect(control.getPendingHttpCalls()).toHaveLength(0);
    // The build before the common header: "JWKS", u32 version 1, u64 generation, i64 fetchedAt, refreshAt, fetchingUntil (at 32)...; 72 bytes.
    const v1 = Buffer.alloc(72);
    v1.write('JWKS', 0, 'latin1');
    v1.writeUInt32LE(1, 4);
    v1.writeBigInt64LE(BigInt(START + 3_600_000), 32);
    for (const value of [older(JWKS_STATE, held), encodeRecord(JWKS_KEYS, { generation: 1n }), v1]) {
      const emu = await create();
      emu.setSharedData(STATE, value);
      expect((await authorized(emu)).status).toBe(4);
      expect(emu.getPendingHttpCalls()).toHaveLength(1);
      expect(mustDecode(JWKS_STATE, emu.getSharedData(STATE)?.value).leaseOwner).not.toBe(7);
      expect(emu.vmFailed).toBe(false);
    }
  });

  it('keys of another layout version are never loaded; the same keys under the current header are', async () => {
    const fetched = { generation: 1n, attempts: 1, fetchedAt: BigInt(START), refreshAt: BigInt(START + 540_000) };
    for (const [keys, loaded] of [[current(JWKS_KEYS, { generation: 1n, document: document() }), true], [older(JWKS_KEYS, { generation: 1n, document: document() }), false]] as const) {
      const emu = await create();
      emu.setSharedData(STATE, current(JWKS_STATE, fetched));
      emu.setSharedData(KEYS, keys);
      const ex = await authorized(emu);
      if (loaded) {
        expect(ex.status).toBe(0); // verified with the shared keys, no fetch
        expect(emu.getPendingHttpCalls()).toHaveLength(0);
      } else {
        expect(ex.status).toBe(4); // no keys in this worker: it fetches them
        expect(emu.getPendingHttpCalls()).toHaveLength(1);
      }
      expect(emu.vmFailed).toBe(false);
    }
  });
});
