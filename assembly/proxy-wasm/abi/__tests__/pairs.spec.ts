import {
  HeaderPair,
  deserializePairs,
  deserializePairsBuffer,
  serializePairs,
  serializePairsInto,
  serializedPairsMaxSize,
  validatePairs,
} from '../pairs';

// Builds a byte buffer from a list of byte values.
function bytes(values: i32[]): ArrayBuffer {
  const buf = new ArrayBuffer(values.length);
  for (let i = 0; i < values.length; i++) store<u8>(changetype<usize>(buf) + i, <u8>values[i]);
  return buf;
}

function toArray(buf: ArrayBuffer): u8[] {
  const out = new Array<u8>(buf.byteLength);
  for (let i = 0; i < buf.byteLength; i++) out[i] = load<u8>(changetype<usize>(buf) + i);
  return out;
}

// The spec's own example: {"a": "1"}, {"b": "22"}.
const SPEC_EXAMPLE: i32[] = [
  2, 0, 0, 0,
  1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
  0x61, 0, 0x31, 0, 0x62, 0, 0x32, 0x32, 0,
];

describe('serializePairs', () => {
  it('writes the count, the sizes, then NUL-terminated names and values (spec example)', () => {
    const buf = serializePairs([new HeaderPair('a', '1'), new HeaderPair('b', '22')]);
    expect(toArray(buf)).toStrictEqual(toArray(bytes(SPEC_EXAMPLE)));
  });

  it('writes an empty map as a zero count', () => {
    expect(toArray(serializePairs([]))).toStrictEqual(toArray(bytes([0, 0, 0, 0])));
  });

  it('writes empty values and UTF-8 sizes in bytes, not characters', () => {
    const buf = serializePairs([new HeaderPair('x-é', ''), new HeaderPair('k', '日本')]);
    // 4 + 2*8 + ("x-é" 4 + 1) + (0 + 1) + (1 + 1) + (6 + 1)
    expect(buf.byteLength).toBe(35);
    expect(load<u32>(changetype<usize>(buf) + 4)).toBe(4);
    expect(load<u32>(changetype<usize>(buf) + 8)).toBe(0);
    expect(load<u32>(changetype<usize>(buf) + 16)).toBe(6);
  });

  it('never writes past the reserved upper bound', () => {
    const pairs = [new HeaderPair('😀😀', '\u00ff\u0100'), new HeaderPair('', '')];
    const max = serializedPairsMaxSize(pairs);
    const buf = new ArrayBuffer(<i32>max + 1);
    store<u8>(changetype<usize>(buf) + max, 0xaa);
    const written = serializePairsInto(pairs, changetype<usize>(buf));
    expect(written).toBeLessThanOrEqual(max);
    expect(load<u8>(changetype<usize>(buf) + max)).toBe(0xaa);
  });
});

describe('deserializePairs', () => {
  it('reads the spec example', () => {
    const pairs = deserializePairsBuffer(bytes(SPEC_EXAMPLE))!;
    expect(pairs.length).toBe(2);
    expect(pairs[0].name).toBe('a');
    expect(pairs[0].value).toBe('1');
    expect(pairs[1].name).toBe('b');
    expect(pairs[1].value).toBe('22');
  });

  it('accepts the three forms of an empty map: no bytes, one 0x00 byte, a zero count', () => {
    expect(deserializePairsBuffer(new ArrayBuffer(0))!.length).toBe(0);
    expect(deserializePairsBuffer(bytes([0]))!.length).toBe(0);
    expect(deserializePairsBuffer(bytes([0, 0, 0, 0]))!.length).toBe(0);
  });

  it('round-trips empty names and values, repeated names and non-ASCII text', () => {
    const input = [
      new HeaderPair('', ''),
      new HeaderPair('set-cookie', 'a=1'),
      new HeaderPair('set-cookie', 'b=2'),
      new HeaderPair('x-ünï', 'välue ✓ 😀'),
    ];
    const out = deserializePairsBuffer(serializePairs(input))!;
    expect(out.length).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(out[i].name).toBe(input[i].name);
      expect(out[i].value).toBe(input[i].value);
    }
  });

  it('decodes bytes that are not UTF-8 without trapping', () => {
    // name "a", value 0xff 0xfe (Latin-1 obs-text, not UTF-8)
    const out = deserializePairsBuffer(bytes([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0, 0xff, 0xfe, 0]))!;
    expect(out.length).toBe(1);
    expect(out[0].name).toBe('a');
  });

  it('rejects every truncation of a valid map', () => {
    const good = bytes(SPEC_EXAMPLE);
    for (let n = 2; n < good.byteLength; n++) {
      expect(deserializePairsBuffer(good.slice(0, n))).toBeNull();
    }
  });

  it('rejects trailing bytes, a missing NUL, and a count larger than the buffer holds', () => {
    const trailing = SPEC_EXAMPLE.slice(0);
    trailing.push(0);
    expect(deserializePairsBuffer(bytes(trailing))).toBeNull();
    const noNul = SPEC_EXAMPLE.slice(0);
    noNul[21] = 0x20; // the NUL after "a"
    expect(deserializePairsBuffer(bytes(noNul))).toBeNull();
    expect(deserializePairsBuffer(bytes([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toBeNull();
    expect(deserializePairsBuffer(bytes([5]))).toBeNull();
  });

  it('rejects sizes that would overflow 32-bit arithmetic', () => {
    // count 1, name size 0xffffffff, value size 1
    expect(deserializePairsBuffer(bytes([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0x31, 0]))).toBeNull();
    expect(deserializePairsBuffer(bytes([1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0, 0x31, 0]))).toBeNull();
  });

  it('validatePairs reads nothing outside the range it is given', () => {
    // The map is valid only if the byte after the range were read as its last NUL.
    const buf = bytes([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x61, 0, 0x31, 0]);
    expect(validatePairs(changetype<usize>(buf), 15)).toBe(-1);
    expect(validatePairs(changetype<usize>(buf), 16)).toBe(1);
    expect(deserializePairs(changetype<usize>(buf), 15)).toBeNull();
  });
});
