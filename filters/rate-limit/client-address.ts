/**
 * The client address a `{ "remote_address": {} }` key part uses, after Envoy's
 * `xff_num_trusted_hops` (source/common/http/conn_manager_utility.cc with
 * `use_remote_address: true`, and `Utility::getLastAddressFromXFF`,
 * source/common/http/utility.cc):
 *
 * - 0 trusted hops: the downstream connection's address (property `source.address`);
 * - N > 0: the N-th address from the right of `x-forwarded-for` (the N-1 rightmost
 *   entries are skipped: they were appended by the trusted proxies), trimmed of
 *   spaces; when XFF has fewer entries or that entry is not an IP address, the
 *   connection's address, as Envoy falls back.
 *
 * Addresses are parsed into their 4 or 16 bytes (so `::1` and `0:0::1` are one client);
 * a connection address that does not parse (a pipe, an unusual host) is used as text.
 */
import { hexValue } from "../../assembly/json/tape";
import { RequestHeaders } from "../../assembly/match";

/** Byte count of an IPv4 address. */
export const IPV4_BYTES: i32 = 4;
/** Byte count of an IPv6 address. */
export const IPV6_BYTES: i32 = 16;

/**
 * Parses the IP address in `s[start, end)` into `out` (16 bytes of room): returns 4
 * (dotted-quad IPv4, no leading zeros, as inet_pton), 16 (IPv6 text of RFC 4291 §2.2,
 * with `::` and a trailing dotted quad; no zone), or 0 when it is not one.
 */
export function parseIp(s: string, start: i32, end: i32, out: usize): i32 {
  if (end - start < 2) return 0;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) == 0x3a) return parseIpv6(s, start, end, out) ? IPV6_BYTES : 0;
  }
  return parseIpv4(s, start, end, out) ? IPV4_BYTES : 0;
}

function parseIpv4(s: string, start: i32, end: i32, out: usize): bool {
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || s.charCodeAt(i) != 0x2e) return false;
      i++;
    }
    const first = i;
    let value = 0;
    while (i < end && i - first < 4) {
      const d = s.charCodeAt(i) - 0x30;
      if (<u32>d > 9) break;
      value = value * 10 + d;
      i++;
    }
    const digits = i - first;
    if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && s.charCodeAt(first) == 0x30)) return false;
    store<u8>(out + <usize>part, <u8>value);
  }
  return i == end;
}

function parseIpv6(s: string, start: i32, end: i32, out: usize): bool {
  let written = 0; // bytes of `out` filled, left to right
  let gap = -1; // byte offset where `::` stands
  let i = start;
  if (s.charCodeAt(i) == 0x3a) {
    if (s.charCodeAt(i + 1) != 0x3a) return false;
    gap = 0;
    i += 2;
    if (i == end) {
      memory.fill(out, 0, 16);
      return true;
    }
  }
  for (;;) {
    if (written > 14) return false;
    // A dotted quad may end the address, in the last 32 bits.
    let dotted = false;
    for (let j = i; j < end && s.charCodeAt(j) != 0x3a; j++) {
      if (s.charCodeAt(j) == 0x2e) {
        dotted = true;
        break;
      }
    }
    if (dotted) {
      if (written > 12 || !parseIpv4(s, i, end, out + <usize>written)) return false;
      written += 4;
      break;
    }
    let value = 0;
    const first = i;
    while (i < end && i - first < 5) {
      const h = hexValue(<u32>s.charCodeAt(i));
      if (h < 0) break;
      value = (value << 4) | h;
      i++;
    }
    const digits = i - first;
    if (digits == 0 || digits > 4) return false;
    store<u8>(out + <usize>written, <u8>(value >> 8));
    store<u8>(out + <usize>written + 1, <u8>value);
    written += 2;
    if (i == end) break;
    if (s.charCodeAt(i) != 0x3a) return false;
    i++;
    if (i < end && s.charCodeAt(i) == 0x3a) {
      if (gap >= 0) return false;
      gap = written;
      i++;
      if (i == end) break;
    } else if (i == end) {
      return false; // a trailing single ':'
    }
  }
  if (gap < 0) return written == 16;
  if (written == 16) return false; // `::` must stand for at least one group
  const tail = written - gap;
  memory.copy(out + <usize>(16 - tail), out + <usize>gap, <usize>tail);
  memory.fill(out + <usize>gap, 0, <usize>(16 - tail - gap));
  return true;
}

/** A range of a string: where an address's text lies. */
export class TextRange {
  start: i32 = 0;
  end: i32 = 0;
}

/**
 * Finds the entry of `x-forwarded-for` value `xff` that `trustedHops` (≥ 1) designates:
 * the text after the `trustedHops`-th comma from the right (Envoy skips trustedHops - 1
 * entries), trimmed of spaces and tabs. False when XFF has too few entries.
 */
export function forwardedForEntry(xff: string, trustedHops: i32, into: TextRange): bool {
  let end = xff.length;
  for (let skip = 1; skip < trustedHops; skip++) {
    const comma = end > 0 ? xff.lastIndexOf(",", end - 1) : -1;
    if (comma < 0) return false;
    end = comma;
  }
  const comma = end > 0 ? xff.lastIndexOf(",", end - 1) : -1;
  let start = comma + 1;
  while (start < end && isSpace(xff.charCodeAt(start))) start++;
  while (end > start && isSpace(xff.charCodeAt(end - 1))) end--;
  into.start = start;
  into.end = end;
  return true;
}

/**
 * The IP part of a `source.address` value (`1.2.3.4:5678`, `[::1]:5678`, or a bare
 * address) as a range of `address`.
 */
export function sourceAddressHost(address: string, into: TextRange): void {
  const n = address.length;
  if (n > 0 && address.charCodeAt(0) == 0x5b) {
    const close = address.indexOf("]");
    into.start = 1;
    into.end = close > 0 ? close : n;
    return;
  }
  const colon = address.indexOf(":");
  into.start = 0;
  // One colon: IPv4 with a port. Several: a bare IPv6 address.
  into.end = colon >= 0 && address.indexOf(":", colon + 1) < 0 ? colon : n;
}

// @ts-ignore: decorator
@inline function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09;
}

const X_FORWARDED_FOR = "x-forwarded-for";

/** Where the connection's client address comes from (the `source.address` property on the host). */
export abstract class AddressSource {
  /** `ip:port`, `[ipv6]:port`, or null when the host has none. */
  abstract sourceAddress(): string | null;
}

/** A fixed address, for specs and tools. */
export class FixedAddress extends AddressSource {
  constructor(readonly address: string | null) {
    super();
  }

  sourceAddress(): string | null {
    return this.address;
  }
}

/**
 * The client's address, chosen as Envoy's `xff_num_trusted_hops` chooses it: the entry that
 * many hops from the right of `x-forwarded-for` when it is an IP, else the connection's source
 * address. One per configuration, reused for every request (one callback at a time): the
 * local key and a `global` rule's descriptor both ask it, and it answers them from one
 * resolution per request (`forget` starts the next), so one client is one client in both
 * and XFF is parsed once.
 */
export class ClientAddress {
  /** The address's bytes after `resolve` answered 4 or 16. */
  readonly ip: ArrayBuffer = new ArrayBuffer(IPV6_BYTES);
  /** The source address as given, after `resolve` answered -1 (not an IP). */
  text: string = "";
  private readonly range: TextRange = new TextRange();
  /** `resolve`'s answer for the current request, once `resolved`. */
  private answer: i32 = 0;
  private resolved: bool = false;

  /** `xff_num_trusted_hops`. */
  constructor(readonly trustedHops: i32) {}

  /** Before another request: the next `resolve` reads its headers and source again. */
  forget(): void {
    this.resolved = false;
  }

  /**
   * 4 or 16: the IP's bytes are in `ip`; 0: no address; -1: an address that is not IP
   * (`text`). The first call after `forget` resolves; later ones repeat its answer, whatever
   * `request` and `source` they are given (the caller forgets before each request).
   */
  resolve(request: RequestHeaders, source: AddressSource): i32 {
    if (!this.resolved) {
      this.answer = this.find(request, source);
      this.resolved = true;
    }
    return this.answer;
  }

  private find(request: RequestHeaders, source: AddressSource): i32 {
    const ip = changetype<usize>(this.ip);
    const range = this.range;
    if (this.trustedHops > 0) {
      const xff = request.header(X_FORWARDED_FOR);
      if (xff !== null && forwardedForEntry(xff, this.trustedHops, range)) {
        const n = parseIp(xff, range.start, range.end, ip);
        if (n > 0) return n;
      }
    }
    const address = source.sourceAddress();
    if (address === null) return 0;
    sourceAddressHost(address, range);
    const n = parseIp(address, range.start, range.end, ip);
    if (n > 0) return n;
    this.text = address;
    return -1;
  }
}
