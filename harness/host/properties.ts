/**
 * `proxy_get_property`: the attributes Envoy exposes (source/extensions/filters/common/
 * expr/context.cc `StreamActivation`, and common/wasm/context.cc `findValue`), encoded
 * as Envoy's `serializeValue` does: strings and bytes raw, integers as 8-byte little
 * endian, booleans as one byte, timestamps and durations as int64 nanoseconds, maps as
 * serialized pairs. A path is a list of segments separated by NUL bytes
 * (`request\0headers\0x-id`). Unknown paths and values that do not exist (yet) are
 * `NOT_FOUND`.
 *
 * Request attributes that come from the request headers are only available while the
 * headers are (during `proxy_on_request_headers`, while the request is paused, and in
 * `proxy_on_log`), as in Envoy, whose activation reads the same header pointer.
 *
 * Values written with `proxy_set_property` live for the stream (Envoy keeps them in the
 * filter state under `wasm.<path>`) and are read back when no built-in name matches.
 *
 * Configuration attributes are `xds.*` (`xds.node`, `xds.cluster_name`, `xds.route_name`,
 * `xds.route_metadata`, ...). The older top-level names (`node`, `cluster_name`,
 * `route_name`) were removed in Envoy 1.33 (changelog: "Remove previously deprecated xDS
 * attributes from get_property"): `NOT_FOUND`, as Envoy 1.40 answers them.
 *
 * A whole attribute group (`request`, `response`, `source`, `destination`, `connection`,
 * `upstream`, `xds`) is a map Envoy cannot serialize (its wrapper lists no keys):
 * `SERIALIZATION_FAILURE` (context.cc `serializeValue`), as Envoy 1.40 answers.
 *
 * What the emulator is not told (test/host/envoy-agreement.test.ts lists it): the full
 * bootstrap `Node` message (only its id and cluster are serialized), and the
 * `date`/`server` headers the connection manager adds.
 */
import { WasmResult } from './abi.ts';
import type { StreamInfo } from './filter.ts';
import type { HeaderMap } from './header-map.ts';
import { encodePairs } from './pairs.ts';
import type { ResolvedServices } from './services.ts';

type Value = Uint8Array | WasmResult;

/** What the attributes are read from: a context (context.ts) and its VM. */
export interface PropertySource {
  readonly wasm: { readonly vmId: string; readonly services: Pick<ResolvedServices, 'node' | 'clock'> };
  readonly plugin: { readonly name: string; readonly rootId: string } | null;
  readonly streamInfo: StreamInfo | null;
  /** True while `proxy_on_log` runs: request attributes read the logged headers. */
  readonly accessLogPhase: boolean;
  /** `proxy_set_property` values of the stream. */
  readonly filterState: ReadonlyMap<string, Uint8Array> | null;
  requestHeadersForProperties(): HeaderMap | null;
  responseHeadersForProperties(): HeaderMap | null;
  responseTrailersForProperties(): HeaderMap | null;
}

const NOT_FOUND = WasmResult.NotFound;

function str(s: string | undefined): Value {
  return s === undefined ? NOT_FOUND : Buffer.from(s, 'latin1');
}

function int64(n: number | bigint | undefined): Value {
  if (n === undefined) return NOT_FOUND;
  const out = Buffer.alloc(8);
  out.writeBigInt64LE(BigInt(n));
  return out;
}

function bool(b: boolean): Value {
  return Buffer.from([b ? 1 : 0]);
}

function nanos(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6));
}

/** `ip:port` → [ip, port] (IPv6 in brackets). */
function splitAddress(address: string | undefined): [string, number] | undefined {
  if (!address) return undefined;
  const i = address.lastIndexOf(':');
  if (i < 0) return [address, 0];
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

function headerMapValue(map: HeaderMap | null, rest: string[]): Value {
  if (map === null) return rest.length === 0 ? encodePairs([]) : NOT_FOUND;
  if (rest.length === 0) return encodePairs(map.entries());
  return str(map.get(rest[0]));
}

/** The value at `path`, or a status. */
export function readProperty(ctx: PropertySource, path: string): Value {
  const parts = path.split('\0');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const [head, ...rest] = parts;
  const value = lookup(ctx, head, rest);
  if (value === undefined) {
    const stored = ctx.filterState?.get(path) ?? ctx.filterState?.get(head);
    return stored ?? NOT_FOUND;
  }
  return value;
}

/** Attribute groups: a message, not a value (`SERIALIZATION_FAILURE` when asked for whole). */
const GROUPS = new Set(['request', 'response', 'source', 'destination', 'connection', 'upstream', 'xds']);

/** expr context.cc `XDSWrapper`. */
function xdsValue(ctx: PropertySource, name: string | undefined, rest: string[]): Value {
  const info = ctx.streamInfo;
  switch (name) {
    case 'node':
      return nodeValue(ctx.wasm.services.node, rest);
    case 'cluster_name':
      return info ? str(info.clusterName) : NOT_FOUND;
    case 'route_name':
      return info ? str(info.routeName) : NOT_FOUND;
    case 'virtual_host_name':
      return info ? str(info.virtualHostName) : NOT_FOUND;
    // Metadata of the route, cluster and virtual host: empty messages (the bootstraps give none).
    case 'route_metadata':
      return info?.routeName !== undefined ? EMPTY : NOT_FOUND;
    case 'cluster_metadata':
      return info?.clusterName !== undefined ? EMPTY : NOT_FOUND;
    case 'virtual_host_metadata':
      return info?.virtualHostName !== undefined ? EMPTY : NOT_FOUND;
    // The listener's `traffic_direction`: UNSPECIFIED (0); its filter chain is unnamed.
    case 'listener_direction':
      return info ? int64(0) : NOT_FOUND;
    case 'filter_chain_name':
      return info ? EMPTY : NOT_FOUND;
    default:
      return NOT_FOUND;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Envoy's `ResponseFlag` bits (envoy/stream_info/stream_info.h, in this order from 0x1),
 * by the short names access logs print (`%RESPONSE_FLAGS%`).
 */
const RESPONSE_FLAG_BITS = [
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE',
  'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO', 'DR',
];

/** `response.flags`: the comma-joined short names as Envoy's uint64 bit set. */
function responseFlags(flags: string | undefined): bigint {
  let bits = 0n;
  for (const f of flags ? flags.split(',') : []) {
    const i = RESPONSE_FLAG_BITS.indexOf(f.trim());
    if (i >= 0) bits |= 1n << BigInt(i);
  }
  return bits;
}

function lookup(ctx: PropertySource, head: string, rest: string[]): Value | undefined {
  const info = ctx.streamInfo;
  const plugin = ctx.plugin;
  if (rest.length === 0 && GROUPS.has(head)) return info ? WasmResult.SerializationFailure : NOT_FOUND;
  switch (head) {
    case 'plugin_name':
      return plugin ? str(plugin.name) : NOT_FOUND;
    case 'plugin_root_id':
      return str(plugin?.rootId ?? '');
    case 'plugin_vm_id':
      return str(ctx.wasm.vmId);
    case 'xds':
      return xdsValue(ctx, rest[0], rest.slice(1));
    case 'connection_id':
      return info ? int64(info.connectionId) : NOT_FOUND;
    case 'request':
      return info ? requestValue(ctx, rest) : NOT_FOUND;
    case 'response':
      return info ? responseValue(ctx, rest) : NOT_FOUND;
    case 'connection':
      if (!info) return NOT_FOUND;
      switch (rest[0]) {
        case 'id':
          return int64(info.connectionId);
        case 'mtls':
          return bool(info.mtls);
        case 'requested_server_name':
          return str('');
        default:
          return NOT_FOUND;
      }
    case 'source':
    case 'destination': {
      if (!info) return NOT_FOUND;
      const address = head === 'source' ? info.downstreamRemoteAddress : info.downstreamLocalAddress;
      if (rest[0] === 'address') return str(address);
      if (rest[0] === 'port') return int64(splitAddress(address)?.[1]);
      return NOT_FOUND;
    }
    case 'upstream': {
      if (!info) return NOT_FOUND;
      if (rest[0] === 'address') return str(info.upstreamAddress);
      if (rest[0] === 'port') return int64(splitAddress(info.upstreamAddress)?.[1]);
      return NOT_FOUND;
    }
    default:
      return undefined;
  }
}

function nodeValue(node: { id: string; cluster: string }, rest: string[]): Value {
  if (rest.length === 0) {
    // A protobuf `envoy.config.core.v3.Node` with id (1) and cluster (2), as Envoy serializes messages.
    const id = Buffer.from(node.id);
    const cluster = Buffer.from(node.cluster);
    const field = (tag: number, b: Buffer): Buffer[] => (b.length ? [Buffer.from([tag, ...varint(b.length)]), b] : []);
    return Buffer.concat([...field(0x0a, id), ...field(0x12, cluster)]);
  }
  if (rest[0] === 'id') return str(node.id);
  if (rest[0] === 'cluster') return str(node.cluster);
  return NOT_FOUND;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function requestValue(ctx: PropertySource, rest: string[]): Value {
  const info = ctx.streamInfo!;
  const headers = ctx.requestHeadersForProperties();
  switch (rest[0]) {
    case undefined:
      return NOT_FOUND;
    case 'headers':
      return headerMapValue(headers, rest.slice(1));
    case 'time':
      return int64(nanos(info.startTimeMs));
    case 'protocol':
      return str(info.protocol);
    case 'size': {
      const cl = headers?.get('content-length');
      if (cl !== undefined) return /^\d+$/.test(cl) ? int64(Number(cl)) : NOT_FOUND;
      return int64(info.requestBodyBytes);
    }
    case 'total_size':
      return headers ? int64(info.requestBodyBytes + headers.byteSize()) : NOT_FOUND;
    case 'headers_bytes':
      return headers ? int64(headers.byteSize()) : NOT_FOUND;
    case 'duration':
      return ctx.accessLogPhase ? int64(nanos(ctx.wasm.services.clock.now() - info.startTimeMs)) : NOT_FOUND;
  }
  if (headers === null) return NOT_FOUND;
  const path = headers.get(':path');
  switch (rest[0]) {
    case 'path':
      return str(path);
    case 'url_path':
      return path === undefined ? NOT_FOUND : str(path.split('?')[0]);
    case 'query': {
      if (path === undefined) return NOT_FOUND;
      const q = path.indexOf('?');
      return str(q < 0 ? '' : path.slice(q + 1));
    }
    case 'host':
      return str(headers.get(':authority'));
    case 'scheme':
      return str(headers.get(':scheme'));
    case 'method':
      return str(headers.get(':method'));
    case 'referer':
      return str(headers.get('referer'));
    case 'useragent':
      return str(headers.get('user-agent'));
    case 'id':
      return str(headers.get('x-request-id'));
    default:
      return NOT_FOUND;
  }
}

function responseValue(ctx: PropertySource, rest: string[]): Value {
  const info = ctx.streamInfo!;
  switch (rest[0]) {
    case 'code':
      return info.responseCode === undefined ? NOT_FOUND : int64(info.responseCode);
    case 'code_details':
      return str(info.responseCodeDetails);
    case 'flags':
      return int64(responseFlags(info.responseFlags));
    case 'size':
      return int64(info.responseBodyBytes);
    case 'headers':
      return headerMapValue(ctx.responseHeadersForProperties(), rest.slice(1));
    case 'trailers':
      return headerMapValue(ctx.responseTrailersForProperties(), rest.slice(1));
    case 'headers_bytes': {
      const headers = ctx.responseHeadersForProperties();
      return headers ? int64(headers.byteSize()) : NOT_FOUND;
    }
    case 'total_size': {
      const headers = ctx.responseHeadersForProperties();
      return int64(info.responseBodyBytes + (headers?.byteSize() ?? 0));
    }
    default:
      return NOT_FOUND;
  }
}
