/**
 * The proto3 JSON mapping as Envoy's config loader applies it, type by type, on messages
 * of Envoy's API: scalars in both their forms, well-known types, maps, nulls, PGV bounds.
 */
import { describe, expect, it } from 'vitest';
import { checkMessage, parseDuration, type CheckContext } from '../../harness/envoy/proto-json.ts';
import { loadEnvoySchema } from '../../harness/envoy/schema.ts';

function check(type: string, value: unknown): { errors: string[]; warnings: string[] } {
  const ctx: CheckContext = { schema: loadEnvoySchema(), errors: [], warnings: [] };
  checkMessage(ctx, type, value, '');
  return {
    errors: ctx.errors.map((e) => `${e.path}: ${e.message}`),
    warnings: ctx.warnings.map((e) => `${e.path}: ${e.message}`),
  };
}

describe('proto3 JSON mapping', () => {
  it('64-bit integers as numbers or decimal strings', () => {
    expect(check('envoy.type.v3.Int64Range', { start: '-9223372036854775808', end: 5 }).errors).toEqual([]);
    expect(check('envoy.type.v3.Int64Range', { start: '9223372036854775808' }).errors).toEqual(['start: 9223372036854775808 is out of range for int64']);
    expect(check('envoy.type.v3.Int64Range', { end: 1.5 }).errors).toEqual(['end: expected an integer (int64), got 1.5']);
  });

  it('doubles as numbers or strings (NaN, Infinity), with PGV bounds', () => {
    expect(check('envoy.type.v3.Percent', { value: '12.5' }).errors).toEqual([]);
    expect(check('envoy.type.v3.Percent', { value: 'Infinity' }).errors).toEqual(['value: must be at most 100']);
    expect(check('envoy.type.v3.Percent', { value: -1 }).errors).toEqual(['value: must be at least 0']);
    expect(check('envoy.type.v3.Percent', { value: true }).errors).toEqual(['value: expected a number (double), got true']);
  });

  it('wrappers take their bare value, with the rules of the wrapped scalar', () => {
    const cluster = { name: 'c', connect_timeout: '1s' };
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, per_connection_buffer_limit_bytes: '32768' }).errors).toEqual([]);
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, per_connection_buffer_limit_bytes: { value: 1 } }).errors).toEqual([
      'per_connection_buffer_limit_bytes: expected an integer (uint32), got an object',
    ]);
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, per_connection_buffer_limit_bytes: -1 }).errors).toEqual([
      'per_connection_buffer_limit_bytes: -1 is out of range for uint32',
    ]);
  });

  it('bytes as base64, Struct as any object, Timestamp as RFC 3339, Empty as {}', () => {
    expect(check('envoy.config.core.v3.DataSource', { inline_bytes: 'aGVsbG8=' }).errors).toEqual([]);
    expect(check('envoy.config.core.v3.DataSource', { inline_bytes: 'not base64!' }).errors).toEqual(['inline_bytes: expected base64 bytes, got "not base64!"']);
    expect(check('envoy.config.core.v3.Metadata', { filter_metadata: { a: { x: [1, { y: null }] } } }).errors).toEqual([]);
    expect(check('envoy.config.core.v3.Metadata', { filter_metadata: { a: 5 } }).errors).toEqual([
      'filter_metadata.a: expected an object (google.protobuf.Struct), got 5',
    ]);
    expect(check('envoy.admin.v3.CertificateDetails', { valid_from: '2025-01-15T10:30:00.5Z' }).errors).toEqual([]);
    expect(check('envoy.admin.v3.CertificateDetails', { valid_from: '2025-01-15' }).errors[0]).toMatch(/^valid_from: expected an RFC 3339 timestamp/);
    expect(check('envoy.config.core.v3.GrpcService.GoogleGrpc.ChannelCredentials', { google_default: {} }).errors).toEqual([]);
    expect(check('envoy.config.core.v3.GrpcService.GoogleGrpc.ChannelCredentials', { google_default: { a: 1 } }).errors[0]).toMatch(/Empty/);
  });

  it('maps check their keys; null unsets a field but is no list item', () => {
    const match = (params: unknown) => check('envoy.extensions.filters.network.dubbo_proxy.v3.MethodMatch', { name: { exact: 'm' }, params_match: params });
    expect(match({ 0: { exact_match: 'a' }, 4294967295: { exact_match: 'b' } }).errors).toEqual([]);
    expect(match({ first: { exact_match: 'a' } }).errors).toEqual(['params_match.first: expected an integer (uint32), got "first"']);
    expect(check('envoy.config.core.v3.SocketAddress', { address: '127.0.0.1', port_value: 1, resolver_name: null }).errors).toEqual([]);
    expect(check('envoy.config.route.v3.VirtualHost', { name: 'v', domains: ['*', null] }).errors).toEqual(['domains[1]: null is not allowed in a list']);
  });

  it('enums by name or number; PGV defined_only refuses unknown numbers', () => {
    const cluster = { name: 'c', connect_timeout: '1s' };
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, lb_policy: 1 }).errors).toEqual([]);
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, lb_policy: 99 }).errors).toEqual([
      'lb_policy: 99 is not a defined value of envoy.config.cluster.v3.Cluster.LbPolicy',
    ]);
    expect(check('envoy.config.cluster.v3.Cluster', { ...cluster, lb_policy: 'round_robin' }).errors[0]).toMatch(/^lb_policy: unknown enum value "round_robin"/);
  });

  it('a field given by both its proto name and its JSON name is an error', () => {
    expect(check('envoy.config.cluster.v3.Cluster', { name: 'c', connect_timeout: '1s', connectTimeout: '2s' }).errors).toEqual([
      'connectTimeout: field "connect_timeout" is set twice (by proto name and JSON name)',
    ]);
  });

  it('Any: @type required; well-known types carry "value"', () => {
    expect(check('envoy.config.core.v3.TypedExtensionConfig', { name: 'x', typed_config: { value: 1 } }).errors[0]).toMatch(/^typed_config\["@type"\]: missing "@type"/);
    const sv = (value: unknown) =>
      check('envoy.config.core.v3.TypedExtensionConfig', { name: 'x', typed_config: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value } });
    expect(sv('{"a":1}').errors).toEqual([]);
    expect(sv(5).errors).toEqual(['typed_config.value: expected a string, got 5']);
  });
});

describe('Duration (google.protobuf.Duration JSON form)', () => {
  it('parses seconds with up to 9 fractional digits, within ±315576000000 s', () => {
    expect(parseDuration('0.25s')).toBe(250_000_000n);
    expect(parseDuration('-1.000000001s')).toBe(-1_000_000_001n);
    expect(parseDuration('315576000000s')).toBe(315_576_000_000_000_000_000n);
    for (const bad of ['250ms', '1', '1.s', '.5s', '1.0000000001s', '315576000001s', ' 1s', '1S']) expect(parseDuration(bad), bad).toBeNull();
  });
});
