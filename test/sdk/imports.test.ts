/**
 * Envoy refuses a module that imports anything it does not provide (proxy-wasm-cpp-host
 * src/wasm.cc registerCallbacks: the ABI functions and a few WASI ones). SDK-built
 * modules must import only those, and export the ABI marker and allocator.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { testModule } from '../../harness/host/testing.ts';

// proxy-wasm/spec abi-versions/v0.2.1 "Functions exposed by the host", as Envoy links
// them for a v0.2.1 module.
const PROXY_FUNCTIONS = new Set([
  'proxy_log', 'proxy_get_log_level', 'proxy_get_current_time_nanoseconds',
  'proxy_set_tick_period_milliseconds', 'proxy_done', 'proxy_set_effective_context',
  'proxy_get_buffer_bytes', 'proxy_set_buffer_bytes', 'proxy_get_buffer_status',
  'proxy_get_header_map_size', 'proxy_get_header_map_pairs', 'proxy_set_header_map_pairs',
  'proxy_get_header_map_value', 'proxy_add_header_map_value', 'proxy_replace_header_map_value',
  'proxy_remove_header_map_value', 'proxy_continue_stream', 'proxy_close_stream', 'proxy_get_status',
  'proxy_send_local_response', 'proxy_http_call', 'proxy_grpc_call', 'proxy_grpc_stream',
  'proxy_grpc_send', 'proxy_grpc_cancel', 'proxy_grpc_close', 'proxy_get_shared_data',
  'proxy_set_shared_data', 'proxy_register_shared_queue', 'proxy_resolve_shared_queue',
  'proxy_enqueue_shared_queue', 'proxy_dequeue_shared_queue', 'proxy_define_metric',
  'proxy_record_metric', 'proxy_increment_metric', 'proxy_get_metric', 'proxy_get_property',
  'proxy_set_property', 'proxy_call_foreign_function',
]);
// The WASI functions Envoy provides (host.md; wasm.cc FOR_ALL_WASI_FUNCTIONS).
const WASI_FUNCTIONS = new Set([
  'fd_write', 'clock_time_get', 'random_get', 'environ_sizes_get', 'environ_get',
  'args_sizes_get', 'args_get', 'proc_exit',
]);

function foreignImports(file: string): string[] {
  const module = new WebAssembly.Module(readFileSync(file));
  return WebAssembly.Module.imports(module)
    .filter((i) => !(
      (i.module === 'env' && PROXY_FUNCTIONS.has(i.name)) ||
      (i.module === 'wasi_snapshot_preview1' && WASI_FUNCTIONS.has(i.name))
    ))
    .map((i) => `${i.module}.${i.name}`);
}

describe('imports of SDK-built modules', () => {
  let example = '';
  let probe = '';
  beforeAll(async () => {
    example = await testModule('test-example');
    probe = await testModule('test-sdk-probe');
  }, 180_000);

  it('example.wasm imports only proxy-wasm hostcalls and Envoy WASI functions', () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(example)));
    expect(imports.length).toBeGreaterThan(0);
    expect(foreignImports(example)).toEqual([]);
  });

  it('the probe, which uses assert (abort) and most of the SDK, imports nothing else either', () => {
    expect(foreignImports(probe)).toEqual([]);
  });

  it('exports the ABI v0.2.1 marker, the allocator and _initialize, and no _start', () => {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(example))).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining([
      'proxy_abi_version_0_2_1', 'proxy_on_memory_allocate', '_initialize', 'memory',
      'proxy_on_context_create', 'proxy_on_vm_start', 'proxy_on_configure', 'proxy_on_tick',
      'proxy_on_queue_ready', 'proxy_on_request_headers', 'proxy_on_request_body',
      'proxy_on_request_trailers', 'proxy_on_response_headers', 'proxy_on_response_body',
      'proxy_on_response_trailers', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete',
      'proxy_on_http_call_response', 'proxy_on_grpc_receive_initial_metadata',
      'proxy_on_grpc_receive', 'proxy_on_grpc_receive_trailing_metadata', 'proxy_on_grpc_close',
      'proxy_on_foreign_function', 'proxy_on_new_connection', 'proxy_on_downstream_data',
      'proxy_on_upstream_data', 'proxy_on_downstream_connection_close',
      'proxy_on_upstream_connection_close',
    ]));
    expect(names).not.toContain('_start');
    expect(names).not.toContain('proxy_abi_version_0_2_0');
  });

  // The filters are built by others; whichever exist must pass the same check.
  const filters = ['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry', 'mesh']
    .map((f) => path.join(projectRoot, 'build', `${f}.wasm`));
  for (const file of filters) {
    it.skipIf(!existsSync(file))(`${path.basename(file)} imports nothing Envoy lacks`, () => {
      expect(foreignImports(file)).toEqual([]);
    });
  }

});
