// Helpers shared by the crypto specs.

/** Lower-case hex of `data`. */
export function toHex(data: Uint8Array): string {
  const digits = "0123456789abcdef";
  let s = "";
  for (let i = 0; i < data.length; i++) {
    s += digits.charAt(data[i] >> 4) + digits.charAt(data[i] & 15);
  }
  return s;
}

/** Bytes of hex `s` (even length, lower or upper case). */
export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = <u8>parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Bytes of an ASCII string. */
export function ascii(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}
