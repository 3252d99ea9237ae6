import {
  decodeBool,
  decodeDouble,
  decodeInt64,
  decodeString,
  decodeUint64,
  encodePropertyPath,
} from '../property';

function text(buf: ArrayBuffer): string {
  // NULs shown as '|' so that expectations are readable.
  let s = '';
  for (let i = 0; i < buf.byteLength; i++) {
    const b = load<u8>(changetype<usize>(buf) + i);
    s += b == 0 ? '|' : String.fromCharCode(b);
  }
  return s;
}

function le64(value: i64): ArrayBuffer {
  const buf = new ArrayBuffer(8);
  store<i64>(changetype<usize>(buf), value);
  return buf;
}

describe('encodePropertyPath', () => {
  it('joins segments with NUL and adds no trailing NUL (Envoy splits on every NUL)', () => {
    expect(text(encodePropertyPath(['request', 'headers', 'x-id'])!)).toBe('request|headers|x-id');
    expect(text(encodePropertyPath(['plugin_root_id'])!)).toBe('plugin_root_id');
  });

  it('keeps empty segments and encodes UTF-8', () => {
    expect(text(encodePropertyPath(['a', '', 'b'])!)).toBe('a||b');
    expect(encodePropertyPath(['é'])!.byteLength).toBe(2);
    expect(encodePropertyPath([])!.byteLength).toBe(0);
  });

  it('rejects a segment containing NUL, which would split it', () => {
    expect(encodePropertyPath(['a\0b'])).toBeNull();
    expect(encodePropertyPath(['ok', '\0'])).toBeNull();
  });
});

describe('property value decoders', () => {
  it('reads int64 and uint64 as 8 bytes little endian', () => {
    expect(decodeInt64(le64(-2))).toBe(-2);
    expect(decodeInt64(le64(1234567890123))).toBe(1234567890123);
    expect(decodeUint64(le64(-1))).toBe(u64.MAX_VALUE);
  });

  it('falls back when the value is not 8 bytes long', () => {
    expect(decodeInt64(new ArrayBuffer(7), 42)).toBe(42);
    expect(decodeInt64(new ArrayBuffer(9), -1)).toBe(-1);
    expect(decodeUint64(new ArrayBuffer(0), 5)).toBe(5);
    expect(decodeDouble(new ArrayBuffer(4), 1.5)).toBe(1.5);
  });

  it('reads doubles and bools', () => {
    const d = new ArrayBuffer(8);
    store<f64>(changetype<usize>(d), 0.25);
    expect(decodeDouble(d)).toBe(0.25);
    const t = new ArrayBuffer(1);
    store<u8>(changetype<usize>(t), 1);
    expect(decodeBool(t)).toBe(true);
    expect(decodeBool(new ArrayBuffer(1), true)).toBe(false);
    expect(decodeBool(new ArrayBuffer(2), true)).toBe(true);
  });

  it('reads strings raw', () => {
    expect(decodeString(String.UTF8.encode('10.0.0.1:8080'))).toBe('10.0.0.1:8080');
    expect(decodeString(String.UTF8.encode('ünï'))).toBe('ünï');
    expect(decodeString(new ArrayBuffer(0))).toBe('');
  });
});
