// HostServices.onHostcall (every hostcall seen before it runs) and the bench's hostcall
// replay (harness/bench/hostcall-replay.ts), which must make exactly the calls it recorded.
import { describe, expect, it } from 'vitest';
import { HostcallRecorder, emptyModule, replayModule } from '../../harness/bench/hostcall-replay.ts';
import { WasmEmulator } from '../../harness/host/emulator.ts';
import { testModule } from '../../harness/host/testing.ts';
import { EXAMPLE_WASM, GET, probe } from './probe.ts';

describe('onHostcall', () => {
  it('sees each hostcall in order with its arguments, before the host answers it', async () => {
    const seen: string[] = [];
    let headersAtCall: string[] = [];
    const emu = await probe(['req_headers add_header 0 x-probe one', 'req_headers get_header 0 x-probe'], {
      onHostcall: (name, args) => {
        seen.push(name);
        if (name === 'env.proxy_add_header_map_value') headersAtCall = emu.getCurrentRequestHeaders(id).map(([k]) => k);
        expect(args.every((a) => typeof a === 'number' || typeof a === 'bigint')).toBe(true);
      },
    });
    const id = emu.initializeHttpContext();
    seen.length = 0;
    emu.callOnRequestHeaders(id, GET, true);
    const add = seen.indexOf('env.proxy_add_header_map_value');
    expect(add).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf('env.proxy_get_header_map_value', add)).toBeGreaterThan(add);
    expect(headersAtCall).not.toContain('x-probe'); // observed before the add ran
    expect(emu.getCurrentRequestHeaders(id)).toContainEqual(['x-probe', 'one']);
  });
});

describe('hostcall replay', () => {
  it('a replay module makes the recorded hostcalls, with the same arguments and input bytes', async () => {
    await testModule('test-example');
    const recorder = new HostcallRecorder();
    recorder.recording = true;
    const original = await WasmEmulator.create({ wasm: EXAMPLE_WASM, rootId: 'example', onHostcall: recorder.observer });
    const configure = recorder.take();
    const request = (emu: WasmEmulator) => {
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, GET, true);
      return id;
    };
    request(original);
    recorder.recording = true;
    const id = request(original);
    const calls = recorder.take();
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.some((c) => c.inputs.some((i) => i.bytes.length > 0))).toBe(true);

    const again = new HostcallRecorder();
    const replay = await WasmEmulator.create({ wasm: replayModule(configure, calls), rootId: 'example', onHostcall: again.observer });
    request(replay);
    again.recording = true;
    const replayId = request(replay);
    const replayed = again.take();
    expect(replayed.map((c) => [c.name, c.args])).toEqual(calls.map((c) => [c.name, c.args]));
    expect(replayed.map((c) => c.inputs)).toEqual(calls.map((c) => c.inputs));
    // Same effects on the request: the example filter's header write.
    expect(replay.getCurrentRequestHeaders(replayId)).toEqual(original.getCurrentRequestHeaders(id));
    // Metric ids resolve as in the original (the configuration's definitions were replayed).
    expect(replay.renderPrometheus()).toBe(original.renderPrometheus());
  });

  it('the empty module makes no hostcall on a request', async () => {
    const seen: string[] = [];
    const emu = await WasmEmulator.create({ wasm: emptyModule(), onHostcall: (name) => void seen.push(name) });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(seen).toEqual([]);
    expect(emu.getCurrentRequestHeaders(id)).toEqual(Object.entries(GET));
  });
});
