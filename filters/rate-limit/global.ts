/**
 * A rule's `global` part (config.ts `GlobalLimit`): the `ShouldRateLimit` request of a
 * request, and why a call gave no decision (its counters: stats.ts `GlobalMetrics`).
 *
 * The request has one descriptor whose entries are the rule's key parts, in order, keyed as
 * Envoy's rate limit actions key them (config.ts), valued from the request:
 *   header / claim   the header's value; "" when it is absent (a missing header is its own
 *                    value, as for the local buckets: requests without it share one count)
 *   remote_address   the client's IP as text (`198.51.100.7`, `2001:db8::7`: RFC 5952, as
 *                    Envoy's `remote_address` action writes it), by the same rule as the local
 *                    key (`xff_num_trusted_hops`, else `source.address`); an address that is
 *                    not IP as it is; "" when there is none
 *   path             `:path` without query and fragment
 *   generic          the constant
 * The IP is written from its parsed bytes, so every spelling of one address (`::1`,
 * `0:0::1`) is one client across the fleet, as it is one bucket locally.
 */
import { ProtoWriter } from "../../assembly/protobuf";
import { formatHex, formatUnsigned } from "../../assembly/proxy-wasm";
import { RequestHeaders, pathLength } from "../../assembly/match";
import { KeyPartKind, Rule } from "./config";
import { AddressSource, ClientAddress, IPV4_BYTES } from "./client-address";
import { addEntry, beginRequest, endRequest } from "./rls";


/** Builds `ShouldRateLimit` requests; reused for every request (one callback at a time). */
export class GlobalRequestBuilder {
  private readonly writer: ProtoWriter = new ProtoWriter();

  /** `client`: the local key's (descriptor.ts `DescriptorBuilder`), so a request's address is resolved once for both. */
  constructor(private readonly client: ClientAddress) {}

  /** The serialized `RateLimitRequest` of `rule` (which has a `global` part) for `request`. */
  build(rule: Rule, request: RequestHeaders, source: AddressSource): ArrayBuffer {
    const global = rule.global!;
    const w = this.writer;
    const mark = beginRequest(w, global.domain);
    const parts = rule.key;
    for (let i = 0, n = parts.length; i < n; i++) {
      const part = unchecked(parts[i]);
      const key = unchecked(global.entryKeys[i]);
      switch (part.kind) {
        case KeyPartKind.Header:
        case KeyPartKind.Claim: {
          const value = request.header(part.text);
          addEntry(w, key, value === null ? "" : value);
          break;
        }
        case KeyPartKind.RemoteAddress:
          addEntry(w, key, this.clientAddress(request, source));
          break;
        case KeyPartKind.Path: {
          const path = request.path();
          addEntry(w, key, path, pathLength(path));
          break;
        }
        default:
          addEntry(w, key, part.text);
      }
    }
    endRequest(w, mark);
    return w.toBuffer();
  }

  /** The client address as text, chosen as the local key's (client-address.ts `ClientAddress`). */
  private clientAddress(request: RequestHeaders, source: AddressSource): string {
    const client = this.client;
    const n = client.resolve(request, source);
    return n > 0 ? formatIp(changetype<usize>(client.ip), n) : n == 0 ? "" : client.text;
  }
}

/**
 * The text of the IP address of `n` bytes (4 or 16) at `ip`: dotted decimal, or IPv6 as
 * RFC 5952 §4 writes it (lower-case hex without leading zeros, the longest run of two or
 * more zero groups, the first on a tie, as `::`, an IPv4-mapped address as
 * `::ffff:1.2.3.4`), which is what inet_ntop and so Envoy's `addressAsString` give.
 */
export function formatIp(ip: usize, n: i32): string {
  if (n == IPV4_BYTES) return dotted(ip);
  let mapped = true;
  for (let i = 0; i < 10; i++) if (load<u8>(ip + <usize>i) != 0) mapped = false;
  if (mapped && load<u8>(ip + 10) == 0xff && load<u8>(ip + 11) == 0xff) return "::ffff:" + dotted(ip + 12);
  let bestStart = -1;
  let bestLength = 1;
  for (let g = 0; g < 8; ) {
    if (group(ip, g) != 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && group(ip, end) == 0) end++;
    if (end - g > bestLength) {
      bestStart = g;
      bestLength = end - g;
    }
    g = end;
  }
  let out = "";
  for (let g = 0; g < 8; g++) {
    if (g == bestStart) {
      out += "::";
      g += bestLength - 1;
      continue;
    }
    if (g > 0 && g != bestStart + bestLength) out += ":";
    out += formatHex(group(ip, g));
  }
  return out;
}

// @ts-ignore: decorator
@inline function group(ip: usize, g: i32): u32 {
  return (<u32>load<u8>(ip + <usize>(2 * g)) << 8) | <u32>load<u8>(ip + <usize>(2 * g + 1));
}

function dotted(ip: usize): string {
  let out = "";
  for (let i = 0; i < 4; i++) {
    if (i > 0) out += ".";
    out += formatUnsigned(<u64>load<u8>(ip + <usize>i));
  }
  return out;
}

/** Why a call gave no decision (`reason` of `<stat_prefix>_global_errors_total`). */
export enum GlobalError {
  /** The call ended at or after its `timeout`, or with DEADLINE_EXCEEDED. */
  Timeout = 0,
  /** The call ended with another gRPC status (UNAVAILABLE, UNIMPLEMENTED, ...). */
  GrpcError = 1,
  /** The answer was not a `RateLimitResponse`, or its `overall_code` was UNKNOWN. */
  BadResponse = 2,
  /** The call could not be started (`proxy_grpc_call` refused it: an unknown cluster). */
  NotSent = 3,
}

