// Header maps (HTTP headers and trailers, HTTP-call responses, gRPC metadata).
//
// ABI: proxy_get/add/replace/remove_header_map_value, proxy_get/set_header_map_pairs,
// proxy_get_header_map_size (proxy-wasm/spec v0.2.1 "HTTP fields"). Each map is
// reachable only from certain callbacks (see the spec); outside them the host answers
// BadArgument or NotFound, which comes back as a status or a null, never a trap.

import {
  proxy_add_header_map_value,
  proxy_get_header_map_pairs,
  proxy_get_header_map_size,
  proxy_get_header_map_value,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_set_header_map_pairs,
} from './abi/imports';
import {
  RET_PTR,
  RET_SIZE,
  argPtr,
  argSize,
  argsBegin,
  hostMemoryMark,
  reserve,
  putString,
  releaseHostMemory,
  returnedRange,
  takeBytes,
  takeResult,
  takeString,
  utf8MaxSize,
} from './abi/memory';
import { HeaderPair, deserializePairs, serializePairsInto, serializedPairsMaxSize, validatePairs } from './abi/pairs';
import { MapType, WasmResult } from './abi/types';
import { asciiLowerCase } from './format';
import { callbackEpoch, currentContextId, readWholeMaps, setLastResult } from './state';

/**
 * A header name, UTF-8 encoded once: what every by-name method of `HeaderMap` and
 * `HeaderFields` takes. Header names are lower case on the ABI (HTTP/2, RFC 9113
 * §8.2.1; Envoy's maps), and `HeaderFields.find` compares bytes, so a `HeaderName` holds
 * lower-case bytes. The instance IS its bytes (an ArrayBuffer's layout, the length in
 * the object header): passing one costs a pointer, reading its length one load.
 *
 * - configured names, at configure time: `HeaderName.of(name)` (lowers A–Z, encodes);
 * - constants: `const NAME = changetype<HeaderName>(ascii.bytes("x-lower-case"))`: the
 *   build stores the literal as static data, one byte a character, and the global stays
 *   a constant. (`HeaderName.wrap` there would be a call the compiler runs at start:
 *   a mutable global and start code per name, ~15 bytes each.)
 *
 * Never mutate its bytes, and never `new HeaderName()`: its runtime id is the bytes'
 * (ArrayBuffer or static array), so `instanceof HeaderName` does not hold.
 */
@final
export class HeaderName {
  /** `name` with A–Z lowered (RFC 9110 §5.1), as UTF-8. Allocates: configure time, not per request. */
  static of(name: string): HeaderName {
    return changetype<HeaderName>(String.UTF8.encode(asciiLowerCase(name)));
  }

  /**
   * `bytes` (UTF-8, never mutated afterwards) as a name, without a copy or lowering:
   * for bytes made at run time already in the case wanted (module constants: the
   * `changetype` form above).
   */
  // @ts-ignore: decorator
  @inline static wrap(bytes: ArrayBuffer): HeaderName {
    return changetype<HeaderName>(bytes);
  }

  /** Length of the UTF-8 name in bytes. */
  // @ts-ignore: decorator
  @inline get byteLength(): i32 {
    return changetype<ArrayBuffer>(this).byteLength;
  }

  /** The UTF-8 bytes themselves (the same object; read-only). */
  // @ts-ignore: decorator
  @inline get bytes(): ArrayBuffer {
    return changetype<ArrayBuffer>(this);
  }

  /** The name as a string (decoded; for logs and messages). */
  toString(): string {
    return String.UTF8.decode(changetype<ArrayBuffer>(this));
  }
}

/** The UTF-8 bytes of `s`, for values and bodies (header names are `HeaderName`s). */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

// Encodes `name` then `value` into the argument scratch: the name at (namePtr,
// nameSize), the value at (argPtr, argSize).
let namePtr: usize = 0;
let nameSize: usize = 0;
function putNameValue(name: string, value: string): void {
  argsBegin(utf8MaxSize(name) + utf8MaxSize(value));
  putString(name);
  namePtr = argPtr;
  nameSize = argSize;
  putString(value);
}

/**
 * One header map of the current context. Obtain it from the context
 * (`this.requestHeaders`), which makes its context the effective one, and use it right
 * away. Names are `HeaderName`s (UTF-8 once, lower case). The `*Named` methods take a
 * string name and encode it on every call into a reused scratch block: the slow path,
 * for names known only at run time and for tests, not for a filter's own headers.
 */
export class HeaderMap {
  /**
   * The map as `HeaderFields.read` last copied it in this callback, with this module's
   * edits since (`MapSnapshot`): lookups answer from it without a hostcall. A hostcall
   * that returns a value costs Envoy a call back into the VM to allocate for it (about
   * 0.8 µs, docs/PERFORMANCE.md "What one hostcall costs") where a lookup here costs
   * nanoseconds; in a chain (chain.ts) one member's read serves the members after it.
   */
  private readonly snapshot: MapSnapshot = new MapSnapshot();

  constructor(readonly mapType: MapType) {}

  /** The value of `name` (the first one if repeated), or null if absent or unavailable. */
  get(name: HeaderName): string | null {
    if (this.copied()) return this.snapshot.lookupString(changetype<usize>(name), <usize>name.byteLength);
    return this.getValueString(changetype<usize>(name), <usize>name.byteLength);
  }

  /** The exact bytes of the value of `name` (the first one), or null if absent or unavailable. */
  getBytes(name: HeaderName): ArrayBuffer | null {
    if (this.copied()) return this.snapshot.lookupBytes(changetype<usize>(name), <usize>name.byteLength);
    const mark = hostMemoryMark();
    const value = takeBytes(mark, proxy_get_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength, RET_PTR, RET_SIZE,
    ));
    setLastResult(takeResult);
    return value;
  }

  /** Whether `name` is present (its value is not copied). */
  has(name: HeaderName): bool {
    if (this.copied()) return this.snapshot.contains(changetype<usize>(name), <usize>name.byteLength);
    return this.hasValue(changetype<usize>(name), <usize>name.byteLength);
  }

  /** @internal `HeaderFields.read` copied this map whole in the current callback. */
  adopt(fields: HeaderFields): void {
    this.snapshot.adopt(fields);
  }

  /**
   * @internal The map's copy with no edits since, when this callback has one (a
   * `HeaderFields.read` then copies it instead of asking the host again).
   */
  cleanCopy(): HeaderFields | null {
    return this.snapshot.clean() ? this.snapshot.copy : null;
  }

  // Whether lookups answer from the copy: there is one, or a chain's callback reads the
  // map whole now (one hostcall for every member's lookups after).
  private copied(): bool {
    const snapshot = this.snapshot;
    if (snapshot.valid()) return true;
    // Read into the snapshot's own buffer, which `adopt` then takes as it is.
    return readWholeMaps() && snapshot.copy.read(this);
  }

  /** Adds `name: value`, keeping existing values of `name`. */
  add(name: HeaderName, value: string): WasmResult {
    this.snapshot.edit(EDIT_ADD, name, value, null);
    argsBegin(utf8MaxSize(value));
    putString(value);
    return setLastResult(proxy_add_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength, argPtr, argSize,
    ));
  }

  /** `add` with a UTF-8 value. */
  addBytes(name: HeaderName, value: ArrayBuffer): WasmResult {
    this.snapshot.edit(EDIT_ADD, name, null, value);
    return setLastResult(proxy_add_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
      changetype<usize>(value), <usize>value.byteLength,
    ));
  }

  /** Sets `name` to `value`, replacing every existing value (adds it if absent). */
  replace(name: HeaderName, value: string): WasmResult {
    this.snapshot.edit(EDIT_REPLACE, name, value, null);
    argsBegin(utf8MaxSize(value));
    putString(value);
    return setLastResult(proxy_replace_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength, argPtr, argSize,
    ));
  }

  /** `replace` with a UTF-8 value. */
  replaceBytes(name: HeaderName, value: ArrayBuffer): WasmResult {
    this.snapshot.edit(EDIT_REPLACE, name, null, value);
    return setLastResult(proxy_replace_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
      changetype<usize>(value), <usize>value.byteLength,
    ));
  }

  /** Removes every value of `name` (Ok when absent too). */
  remove(name: HeaderName): WasmResult {
    this.snapshot.edit(EDIT_REMOVE, name, null, null);
    return setLastResult(proxy_remove_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
    ));
  }

  /** Slow path of `get`: `name` (lower case) encoded on this call. */
  getNamed(name: string): string | null {
    argsBegin(utf8MaxSize(name));
    putString(name);
    if (this.copied()) return this.snapshot.lookupString(lowerInPlace(argPtr, argSize), argSize);
    return this.getValueString(argPtr, argSize);
  }

  /** Slow path of `has`: `name` (lower case) encoded on this call. */
  hasNamed(name: string): bool {
    argsBegin(utf8MaxSize(name));
    putString(name);
    if (this.copied()) return this.snapshot.contains(lowerInPlace(argPtr, argSize), argSize);
    return this.hasValue(argPtr, argSize);
  }

  /** Slow path of `add`: `name` (lower case) encoded on this call. */
  addNamed(name: string, value: string): WasmResult {
    if (this.snapshot.valid()) this.snapshot.edit(EDIT_ADD, HeaderName.of(name), value, null);
    putNameValue(name, value);
    return setLastResult(proxy_add_header_map_value(this.mapType, namePtr, nameSize, argPtr, argSize));
  }

  /** Slow path of `replace`: `name` (lower case) encoded on this call. */
  replaceNamed(name: string, value: string): WasmResult {
    if (this.snapshot.valid()) this.snapshot.edit(EDIT_REPLACE, HeaderName.of(name), value, null);
    putNameValue(name, value);
    return setLastResult(proxy_replace_header_map_value(this.mapType, namePtr, nameSize, argPtr, argSize));
  }

  /** Slow path of `remove`: `name` (lower case) encoded on this call. */
  removeNamed(name: string): WasmResult {
    if (this.snapshot.valid()) this.snapshot.edit(EDIT_REMOVE, HeaderName.of(name), null, null);
    argsBegin(utf8MaxSize(name));
    putString(name);
    return setLastResult(proxy_remove_header_map_value(this.mapType, argPtr, argSize));
  }

  /**
   * Every entry in order (repeated names repeated), decoded in place from the host's
   * serialized map; null if the map is unavailable or the host's bytes are malformed
   * (`lastResult()` is then the host status, or SerializationFailure).
   */
  getAll(): HeaderPair[] | null {
    const mark = hostMemoryMark();
    if (!returnedRange(mark, proxy_get_header_map_pairs(this.mapType, RET_PTR, RET_SIZE))) {
      setLastResult(takeResult);
      return null;
    }
    const pairs = deserializePairs(load<usize>(RET_PTR), load<usize>(RET_SIZE));
    releaseHostMemory(mark);
    setLastResult(pairs ? WasmResult.Ok : WasmResult.SerializationFailure);
    return pairs;
  }

  /** Replaces the whole map with `pairs`. */
  setAll(pairs: HeaderPair[]): WasmResult {
    this.snapshot.drop();
    const max = serializedPairsMaxSize(pairs);
    argsBegin(max);
    const ptr = reserve(max);
    const size = serializePairsInto(pairs, ptr);
    return setLastResult(proxy_set_header_map_pairs(this.mapType, ptr, size));
  }

  /** Size in bytes of the serialized map (`proxy_get_header_map_size`), 0 if unavailable. */
  serializedSize(): usize {
    const r = proxy_get_header_map_size(this.mapType, RET_SIZE);
    setLastResult(r);
    return r == WasmResult.Ok ? load<usize>(RET_SIZE) : 0;
  }

  private hasValue(namePtr: usize, nameSize: usize): bool {
    const mark = hostMemoryMark();
    const r = proxy_get_header_map_value(this.mapType, namePtr, nameSize, RET_PTR, RET_SIZE);
    releaseHostMemory(mark);
    setLastResult(r);
    return r == WasmResult.Ok;
  }

  private getValueString(namePtr: usize, nameSize: usize): string | null {
    const mark = hostMemoryMark();
    const value = takeString(mark, proxy_get_header_map_value(this.mapType, namePtr, nameSize, RET_PTR, RET_SIZE));
    setLastResult(takeResult);
    return value;
  }
}

// Lowers A-Z of the `size` bytes at `ptr` (a name in the argument scratch), as Envoy does
// with the key of a lookup (Http::LowerCaseString), so the copy finds what the host would.
function lowerInPlace(ptr: usize, size: usize): usize {
  for (let i: usize = 0; i < size; i++) {
    const c = load<u8>(ptr + i);
    if (c >= 0x41 && c <= 0x5a) store<u8>(ptr + i, c | 0x20);
  }
  return ptr;
}

// Edits a module makes to a map after its snapshot (MapSnapshot.edit).
const EDIT_ADD: u8 = 0;
const EDIT_REPLACE: u8 = 1;
const EDIT_REMOVE: u8 = 2;
/** Strings `MapSnapshot.lookupString` keeps per callback. */
const MAX_DECODED = 4;

/**
 * A map's copy taken by `HeaderFields.read` in the current callback, and this module's
 * edits of the map since: what the host's map is now, for lookups (`HeaderMap.get`,
 * `getBytes`, `getNamed`). Valid until the callback ends (Envoy's other filters may
 * change the map between callbacks) and only for the context that took it; `setAll`
 * drops it. Edits are replayed in order on the copy's first value: replace sets it,
 * remove clears it, add sets it only when there was none (a lookup sees the first value).
 */
class MapSnapshot {
  readonly copy: HeaderFields = new HeaderFields();
  /** `callbackEpoch()` when taken; 0: none. */
  private epoch: u32 = 0;
  private contextId: u32 = 0;
  private readonly editKinds: u8[] = [];
  private readonly editNames: HeaderName[] = [];
  // Each edit's value as it was given (converted only when looked up): text, or bytes
  // copied into `editArena` at `editOffsets` (-1: text or none). A copy, because the
  // caller may reuse its buffer once the call returns (rate-limit's digits do); in one
  // buffer reused from callback to callback, so that an edit allocates nothing.
  private readonly editTexts: Array<string | null> = [];
  private readonly editOffsets: i32[] = [];
  private readonly editLengths: i32[] = [];
  private editArena: ArrayBuffer = new ArrayBuffer(0);
  private editArenaUsed: i32 = 0;
  // Values of the copy decoded by `lookupString` in this callback, by offset in the copy.
  private readonly decodedStarts: i32[] = [];
  private readonly decoded: string[] = [];

  valid(): bool {
    return this.epoch != 0 && this.epoch == callbackEpoch() && this.contextId == currentContextId();
  }

  /** Valid, with no edit since it was taken: the copy is the map. */
  clean(): bool {
    return this.valid() && this.editKinds.length == 0;
  }

  adopt(fields: HeaderFields): void {
    if (fields !== this.copy) this.copy.copyFrom(fields);
    this.epoch = callbackEpoch();
    this.contextId = currentContextId();
    this.editKinds.length = 0;
    this.editNames.length = 0;
    this.editTexts.length = 0;
    this.editOffsets.length = 0;
    this.editLengths.length = 0;
    this.editArenaUsed = 0;
    this.decodedStarts.length = 0;
    this.decoded.length = 0;
  }

  drop(): void {
    this.epoch = 0;
  }

  /** Records an edit (value as `text` or `bytes`) while the snapshot is valid. */
  edit(kind: u8, name: HeaderName, text: string | null, bytes: ArrayBuffer | null): void {
    if (!this.valid()) return;
    this.editKinds.push(kind);
    this.editNames.push(name);
    this.editTexts.push(text);
    if (bytes === null) {
      this.editOffsets.push(-1);
      this.editLengths.push(0);
      return;
    }
    const length = bytes.byteLength;
    const at = this.editArenaUsed;
    let arena = this.editArena;
    if (at + length > arena.byteLength) {
      let capacity = arena.byteLength * 2;
      if (capacity < at + length) capacity = at + length + 64;
      const grown = new ArrayBuffer(capacity);
      memory.copy(changetype<usize>(grown), changetype<usize>(arena), <usize>at);
      this.editArena = arena = grown;
    }
    memory.copy(changetype<usize>(arena) + <usize>at, changetype<usize>(bytes), <usize>length);
    this.editArenaUsed = at + length;
    this.editOffsets.push(at);
    this.editLengths.push(length);
  }

  // The value of the name at `ptr` (`length` bytes) after the edits: 1 with `found*` set
  // (from the copy when `foundEdit` < 0, else that edit's value), 0 when absent.
  private foundEdit: i32 = -1;

  /** Whether the name at `ptr` (`length` bytes) has a value (`lastResult` Ok or NotFound); nothing copied. */
  contains(ptr: usize, length: usize): bool {
    const found = this.resolve(ptr, length);
    setLastResult(found ? WasmResult.Ok : WasmResult.NotFound);
    return found;
  }

  private resolve(ptr: usize, length: usize): bool {
    let present = this.copy.findRaw(ptr, <u32>length);
    let edit = -1;
    const kinds = this.editKinds;
    for (let i = 0, n = kinds.length; i < n; i++) {
      const name = unchecked(this.editNames[i]);
      if (<usize>name.byteLength != length || memory.compare(changetype<usize>(name), ptr, length) != 0) continue;
      const kind = unchecked(kinds[i]);
      if (kind == EDIT_REMOVE) present = false;
      else if (kind == EDIT_REPLACE || !present) {
        present = true;
        edit = i;
      }
    }
    this.foundEdit = edit;
    return present;
  }

  lookupBytes(ptr: usize, length: usize): ArrayBuffer | null {
    setLastResult(WasmResult.Ok);
    if (!this.resolve(ptr, length)) {
      setLastResult(WasmResult.NotFound);
      return null;
    }
    if (this.foundEdit < 0) return this.copy.valueBytes();
    const text = unchecked(this.editTexts[this.foundEdit]);
    if (text !== null) return String.UTF8.encode(text);
    const start = this.editStart();
    return this.editArena.slice(start, start + this.editLength());
  }

  lookupString(ptr: usize, length: usize): string | null {
    setLastResult(WasmResult.Ok);
    if (!this.resolve(ptr, length)) {
      setLastResult(WasmResult.NotFound);
      return null;
    }
    if (this.foundEdit < 0) {
      const fields = this.copy;
      const start = fields.valueStart;
      // Several filters of a chain (or rules of one) ask for the same :path and :method.
      const starts = this.decodedStarts;
      for (let i = 0, n = starts.length; i < n; i++) {
        if (unchecked(starts[i]) == start) return unchecked(this.decoded[i]);
      }
      const text = String.UTF8.decodeUnsafe(changetype<usize>(fields.rawBuffer) + <usize>start, <usize>fields.valueLength);
      if (starts.length < MAX_DECODED) {
        starts.push(start);
        this.decoded.push(text);
      }
      return text;
    }
    const text = unchecked(this.editTexts[this.foundEdit]);
    return text !== null ? text : String.UTF8.decodeUnsafe(changetype<usize>(this.editArena) + <usize>this.editStart(), <usize>this.editLength());
  }

  // The bytes value of edit `foundEdit` in `editArena`.
  private editStart(): i32 {
    return unchecked(this.editOffsets[this.foundEdit]);
  }

  private editLength(): i32 {
    return unchecked(this.editLengths[this.foundEdit]);
  }
}

/**
 * A header map read whole with one `proxy_get_header_map_pairs` into a buffer reused
 * from read to read, for a callback that looks up several headers of one map: one
 * hostcall and one host allocation where `getBytes` costs one of each per header, and
 * lookups that allocate nothing (`find` then `valueLength`/`valueByte`, `bytes` and
 * `valueStart`, or `decimal`). Names are `HeaderName`s, compared byte for byte;
 * `find` takes the first value or, for a repeated header, value `nth` (every field
 * counts: `HeaderMap.get` sees the first only, Envoy context.cc `getHeaderMapValue`).
 * The copy is what the map was when read: read it again after changing the map.
 */
export class HeaderFields {
  // Grown on the first read (every HeaderMap keeps one for its copy, most never read).
  private buffer: ArrayBuffer = new ArrayBuffer(0);
  /** `buffer` as a Uint8Array, made when `bytes` is first asked for (and after it grows). */
  private view: Uint8Array | null = null;
  /** Bytes of the serialized map in `buffer` (0: empty, or not read). */
  private size: usize = 0;
  /** Offset in `bytes` of the value `find` found. */
  valueStart: i32 = 0;
  /** Length of the value `find` found (bytes). */
  valueLength: i32 = 0;

  /**
   * The buffer holding the map read: the value `find` found is
   * `bytes[valueStart .. valueStart + valueLength)`, valid until the next `read`.
   */
  get bytes(): Uint8Array {
    let view = this.view;
    if (view === null) this.view = view = Uint8Array.wrap(this.buffer);
    return view;
  }

  /**
   * Reads `map` (current context) whole. False, leaving it empty, when the host has no
   * such map here or sends malformed bytes (`lastResult()` says which).
   */
  read(map: HeaderMap): bool {
    const clean = map.cleanCopy();
    if (clean !== null) {
      // The map as this callback already copied it, unchanged since: no hostcall.
      if (clean !== this) this.copyFrom(clean);
      return setLastResult(WasmResult.Ok) == WasmResult.Ok;
    }
    this.size = 0;
    const mark = hostMemoryMark();
    let r = WasmResult.Ok;
    if (returnedRange(mark, proxy_get_header_map_pairs(map.mapType, RET_PTR, RET_SIZE))) {
      const ptr = load<usize>(RET_PTR);
      const size = load<usize>(RET_SIZE);
      const n = validatePairs(ptr, size);
      // A map without entries is kept as nothing read: lookups find nothing either way.
      if (n > 0) {
        if (<usize>this.buffer.byteLength < size) {
          let capacity: usize = 512;
          while (capacity < size) capacity <<= 1;
          this.buffer = new ArrayBuffer(<i32>capacity);
          this.view = null;
        }
        memory.copy(changetype<usize>(this.buffer), ptr, size);
        this.size = size;
      } else if (n < 0) r = WasmResult.SerializationFailure;
      releaseHostMemory(mark);
    } else r = takeResult;
    setLastResult(r);
    if (r == WasmResult.Ok) map.adopt(this);
    return r == WasmResult.Ok;
  }

  /** Makes this a copy of what `other` read (a buffer copy, no hostcall). */
  copyFrom(other: HeaderFields): void {
    const size = other.size;
    if (<usize>this.buffer.byteLength < size) {
      this.buffer = new ArrayBuffer(other.buffer.byteLength);
      this.view = null;
    }
    memory.copy(changetype<usize>(this.buffer), changetype<usize>(other.buffer), size);
    this.size = size;
  }

  /** Forgets the map read (lookups find nothing until the next `read`). */
  clear(): void {
    this.size = 0;
  }

  /**
   * Whether `name` has a value number `nth` (from 0, in field order) in the map read;
   * that value is then the one `valueByte`, `valueStart`/`valueLength` and `valueBytes` read.
   */
  find(name: HeaderName, nth: i32 = 0): bool {
    return this.findRaw(changetype<usize>(name), <u32>name.byteLength, nth);
  }

  /** `find` of the name at `want` (`wantLength` UTF-8 bytes). */
  findRaw(want: usize, wantLength: u32, nth: i32 = 0): bool {
    if (this.size < 4) return false;
    const base = changetype<usize>(this.buffer);
    const n = load<u32>(base);
    let sizes = base + 4;
    let data = sizes + (<usize>n << 3);
    for (let i: u32 = 0; i < n; i++, sizes += 8) {
      const nameLength = load<u32>(sizes);
      const valueLength = load<u32>(sizes, 4);
      if (nameLength == wantLength) {
        // Names are short: a byte loop, not memory.compare's inlined general case.
        let j: u32 = 0;
        while (j < wantLength && load<u8>(data + <usize>j) == load<u8>(want + <usize>j)) j++;
        if (j == wantLength && nth-- == 0) {
          this.valueStart = <i32>(data + <usize>nameLength + 1 - base);
          this.valueLength = <i32>valueLength;
          return true;
        }
      }
      data += <usize>nameLength + <usize>valueLength + 2;
    }
    return false;
  }

  /** @internal The buffer itself (MapSnapshot decodes a value in place). */
  get rawBuffer(): ArrayBuffer {
    return this.buffer;
  }

  /** Byte `i` (0 ≤ i < valueLength) of the value `find` found. */
  valueByte(i: i32): u8 {
    if (<u32>i >= <u32>this.valueLength) return 0;
    return load<u8>(changetype<usize>(this.buffer) + <usize>this.valueStart + <usize>i);
  }

  /** The value `find` found, copied. */
  valueBytes(): ArrayBuffer {
    const out = new ArrayBuffer(this.valueLength);
    memory.copy(changetype<usize>(out), changetype<usize>(this.buffer) + <usize>this.valueStart, <usize>this.valueLength);
    return out;
  }

  /**
   * The (first) value of `name` as an unsigned decimal of 1 to `maxDigits` digits and
   * nothing else (`:status`, `grpc-status`), or -1 when absent or anything else.
   */
  decimal(name: HeaderName, maxDigits: i32 = 9): i64 {
    if (!this.find(name)) return -1;
    const n = this.valueLength;
    if (n == 0 || n > maxDigits) return -1;
    const p = changetype<usize>(this.buffer) + <usize>this.valueStart;
    let v: i64 = 0;
    for (let i = 0; i < n; i++) {
      const d = <u32>load<u8>(p + <usize>i) - 0x30;
      if (d > 9) return -1;
      v = v * 10 + <i64>d;
    }
    return v;
  }
}

/** Response headers of the HTTP call being answered, in `onHttpCallResponse`. */
// @ts-ignore: decorator
@lazy export const httpCallResponseHeaders = new HeaderMap(MapType.HttpCallResponseHeaders);
/** Response trailers of the HTTP call being answered, in `onHttpCallResponse`. */
// @ts-ignore: decorator
@lazy export const httpCallResponseTrailers = new HeaderMap(MapType.HttpCallResponseTrailers);
/** Initial metadata of a gRPC call, in `onGrpcReceiveInitialMetadata`. */
// @ts-ignore: decorator
@lazy export const grpcInitialMetadata = new HeaderMap(MapType.GrpcCallInitialMetadata);
/** Trailing metadata of a gRPC call, in `onGrpcReceiveTrailingMetadata`. */
// @ts-ignore: decorator
@lazy export const grpcTrailingMetadata = new HeaderMap(MapType.GrpcCallTrailingMetadata);

// Per-stream maps: contexts hand them out after making themselves effective.
// @ts-ignore: decorator
@lazy export const requestHeadersMap = new HeaderMap(MapType.HttpRequestHeaders);
// @ts-ignore: decorator
@lazy export const requestTrailersMap = new HeaderMap(MapType.HttpRequestTrailers);
// @ts-ignore: decorator
@lazy export const responseHeadersMap = new HeaderMap(MapType.HttpResponseHeaders);
// @ts-ignore: decorator
@lazy export const responseTrailersMap = new HeaderMap(MapType.HttpResponseTrailers);
