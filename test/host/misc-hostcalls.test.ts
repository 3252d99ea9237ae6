// Logging, time, ticks, WASI and foreign functions: proxy-wasm/spec v0.2.1 ("Logging",
// "Clocks", "Timers", "Randomness", "Environment variables", "FFI"), cpp-host
// src/exports.cc (log level check, wasi_unstable_* behaviour), Envoy wasm.cc
// (setTimerPeriod / tickHandler), foreign.cc (compress / uncompress).
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LogLevel } from '../../harness/host/abi.ts';
import { probe, result, results, status } from './probe.ts';

const BAD_ARGUMENT = 2;
const NOT_FOUND = 1;
const WASI_BADF = 8;
const WASI_INVAL = 28;
const WASI_NOTSUP = 58;

describe('logging', () => {
  it('proxy_log logs at the given level; a level above critical is BAD_ARGUMENT', async () => {
    const emu = await probe(['configure log 0 t', 'configure log 4 e', 'configure log 5 c', 'configure log 6 x']);
    expect(emu.getLogEntries().filter((l) => ['t', 'e', 'c'].includes(l.message)).map((l) => l.level)).toEqual([
      LogLevel.Trace,
      LogLevel.Error,
      LogLevel.Critical,
    ]);
    expect(status(emu, 'configure log 6 x')).toBe(BAD_ARGUMENT);
  });

  it('log lines carry the plugin name, root id and vm id (Envoy "wasm log <name> <root_id> <vm_id>:")', async () => {
    const emu = await probe(['configure log 2 hello'], { name: 'p1', rootId: 'r1', vmId: 'v1' });
    expect(emu.getLogEntries().find((l) => l.message === 'hello')?.source).toEqual({ plugin: 'p1', rootId: 'r1', vmId: 'v1' });
  });

  it('proxy_get_log_level reports the host level; lines below it are dropped', async () => {
    const emu = await probe(['configure log_level', 'configure log 1 debug-line'], { logLevel: LogLevel.Warn });
    expect(emu.getLogs()).not.toContain('debug-line');
    // The report itself is at info, below warn: read the level through a warn-level probe line instead.
    expect(emu.getLogs().some((l) => l.startsWith('configure log_level'))).toBe(false);
    const traced = await probe(['configure log_level']);
    expect(result(traced, 'configure log_level')).toBe(`0 ${LogLevel.Trace}`);
  });

  it('WASI fd_write: stdout logs at info, stderr at error (one trailing newline dropped), other fds BADF', async () => {
    const emu = await probe(['configure fd_write 1 out-line\n', 'configure fd_write 2 err-line', 'configure fd_write 3 x']);
    const entries = emu.getLogEntries();
    expect(entries.find((l) => l.message === 'out-line')?.level).toBe(LogLevel.Info);
    expect(entries.find((l) => l.message === 'err-line')?.level).toBe(LogLevel.Error);
    expect(result(emu, 'configure fd_write 2 err-line')).toBe('0 8');
    expect(status(emu, 'configure fd_write 3 x')).toBe(WASI_BADF);
  });
});

describe('time and ticks', () => {
  it('proxy_get_current_time_nanoseconds and clock_time_get(REALTIME) read the wall clock; MONOTONIC its own; others NOTSUP', async () => {
    const emu = await probe(['tick time', 'tick clock 0', 'tick clock 1', 'tick clock 2']);
    emu.advanceClock(1500);
    emu.tick();
    const nowNs = BigInt(emu.now()) * 1_000_000n;
    expect(result(emu, 'tick time')).toBe(`0 ${nowNs}`);
    expect(result(emu, 'tick clock 0')).toBe(`0 ${nowNs}`);
    expect(result(emu, 'tick clock 1')).toBe(`0 ${1_500_000_000n}`);
    expect(status(emu, 'tick clock 2')).toBe(WASI_NOTSUP);
  });

  it('proxy_set_tick_period_milliseconds fires proxy_on_tick every period; 0 stops it', async () => {
    const emu = await probe(['configure tick_period 1000', 'tick log 2 tock']);
    emu.advanceClock(999);
    expect(emu.getLogs().filter((l) => l === 'tock')).toHaveLength(0);
    emu.advanceClock(2001);
    expect(emu.getLogs().filter((l) => l === 'tock')).toHaveLength(3);
  });

  it('a tick can change its own period', async () => {
    const emu = await probe(['configure tick_period 100', 'tick log 2 tock', 'tick tick_period 0']);
    emu.advanceClock(1000);
    expect(emu.getLogs().filter((l) => l === 'tock')).toHaveLength(1);
  });
});

describe('WASI randomness and environment', () => {
  it('random_get fills up to 64 KiB; more is INVAL', async () => {
    const emu = await probe(['configure random 32', 'configure random 65537']);
    expect(status(emu, 'configure random 32')).toBe(0);
    expect(status(emu, 'configure random 65537')).toBe(WASI_INVAL);
  });

  it('environ_get returns the plugin\'s environment_variables as KEY=VALUE', async () => {
    const emu = await probe(['configure environ'], { environmentVariables: { REGION: 'eu-1', MODE: 'strict' } });
    expect(result(emu, 'configure environ')).toBe('0 2 REGION=eu-1;MODE=strict');
  });
});

describe('foreign functions (Envoy foreign.cc)', () => {
  it('compress is zlib\'s compress(); an unknown function is NOT_FOUND', async () => {
    const emu = await probe(['configure foreign compress hello-hello-hello', 'configure foreign nope x']);
    const hex = result(emu, 'configure foreign compress hello-hello-hello').split(' ')[1];
    expect(inflateSync(Buffer.from(hex, 'hex')).toString()).toBe('hello-hello-hello');
    expect(status(emu, 'configure foreign nope x')).toBe(NOT_FOUND);
  });

  it('uncompress of bad data is SERIALIZATION_FAILURE', async () => {
    const emu = await probe(['configure foreign uncompress not-zlib']);
    expect(results(emu, 'configure foreign uncompress not-zlib')).toEqual(['3']);
  });
});

describe('memory access', () => {
  it('out-of-memory pointers: proxy_log and time are INVALID_MEMORY_ACCESS, fd_write is FAULT', async () => {
    const emu = await probe(['configure oob log', 'configure oob time', 'configure oob fd_write']);
    expect(status(emu, 'configure oob log')).toBe(6);
    expect(status(emu, 'configure oob time')).toBe(6);
    expect(status(emu, 'configure oob fd_write')).toBe(21);
    expect(emu.vmFailed).toBe(false);
  });
});
