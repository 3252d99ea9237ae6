/**
 * The WASI functions Envoy links, under both `wasi_snapshot_preview1` and
 * `wasi_unstable`, with the behaviour of proxy-wasm-cpp-host `src/exports.cc`
 * (`wasi_unstable_*`) and the signatures it registers (`FOR_ALL_WASI_FUNCTIONS`):
 *
 * - `fd_write` / `fd_pwrite` to fd 1 log at info, fd 2 at error (one trailing newline
 *   dropped); other fds `BADF`;
 * - `clock_time_get`: realtime and monotonic, else `NOTSUP`; `random_get` up to 64 KiB;
 * - `environ_*` from the VM's `environment_variables`; `args_*` empty;
 * - `proc_exit` only logs (at trace, Envoy's `Context::error`) and returns;
 * - the file-system and socket functions answer what cpp-host answers (`NOENT`,
 *   `BADF`, `NOSYS`, `NOTSUP`...), so toolchains whose start-up code imports them load.
 */
import { AbiVersion, LogLevel, WasiClockId, WasiErrno, WasiFd } from './abi.ts';
import { checkAllowed, type HostFunction, type HostVm } from './host-interface.ts';
import type { ValType } from './module-info.ts';

const ANY = [AbiVersion.V0_1_0, AbiVersion.V0_2_0, AbiVersion.V0_2_1] as const;
const RANDOM_MAX = 64 * 1024;

type Maker = HostFunction['make'];

function fn(params: string, make: Maker, result = true): HostFunction {
  const types = params.split(' ').filter(Boolean) as ValType[];
  return { type: { params: types, results: result ? ['i32'] : [] }, abis: ANY, make };
}

const isStdio = (fd: number): boolean => fd === WasiFd.Stdout || fd === WasiFd.Stderr;

/** Constant answer, after the given number of i32/i64 arguments. */
const answer = (params: string, errno: number): HostFunction => fn(params, () => () => errno);

/** Answer `errno` for any fd but stdout/stderr (cpp-host's "only stdout and stderr" stubs). */
const stdio = (params: string, ok: number): HostFunction =>
  fn(params, () => (fd: number) => (isStdio(fd) ? ok : WasiErrno.Badf));

function writev(w: HostVm, fd: number, iovs: number, iovsLen: number): number {
  let level: LogLevel;
  if (fd === WasiFd.Stdout) level = LogLevel.Info;
  else if (fd === WasiFd.Stderr) level = LogLevel.Error;
  else return -WasiErrno.Badf;
  let s = '';
  for (let i = 0; i < iovsLen >>> 0; i++) {
    const base = w.mem.getU32(iovs + i * 8);
    const len = w.mem.getU32(iovs + i * 8 + 4);
    if (base === null || len === null) return -WasiErrno.Fault;
    if (len === 0) continue;
    const chunk = w.mem.utf8(base, len);
    if (chunk === null) return -WasiErrno.Fault;
    s += chunk;
  }
  const written = Buffer.byteLength(s);
  if (written > 0) {
    w.effectiveContext().log(level, s.endsWith('\n') ? s.slice(0, -1) : s);
  }
  return written;
}

export function wasiFunctions(): Array<[string, HostFunction]> {
  return [
    [
      'fd_write',
      fn('i32 i32 i32 i32', (w) => (fd: number, iovs: number, iovsLen: number, writtenPtr: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.fd_write');
        const n = writev(w, fd, iovs, iovsLen);
        if (n < 0) return -n;
        return w.mem.setU32(writtenPtr, n) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    [
      'fd_pwrite',
      fn('i32 i32 i32 i64 i32', (w) => (fd: number, iovs: number, iovsLen: number, _offset: bigint, writtenPtr: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.fd_pwrite');
        if (!isStdio(fd)) return WasiErrno.Badf;
        const n = writev(w, fd, iovs, iovsLen);
        if (n < 0) return -n;
        return w.mem.setU32(writtenPtr, n) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    ['fd_read', answer('i32 i32 i32 i32', WasiErrno.Nosys)],
    ['fd_pread', answer('i32 i32 i32 i64 i32', WasiErrno.Nosys)],
    [
      'fd_seek',
      fn('i32 i64 i32 i32', (w) => () => {
        w.effectiveContext().log(LogLevel.Trace, 'wasi_unstable fd_seek');
        return WasiErrno.Success;
      }),
    ],
    [
      'fd_close',
      fn('i32', (w) => () => {
        w.effectiveContext().log(LogLevel.Trace, 'wasi_unstable fd_close');
        return WasiErrno.Success;
      }),
    ],
    [
      'fd_fdstat_get',
      fn('i32 i32', (w) => (fd: number, statPtr: number) => {
        if (!isStdio(fd)) return WasiErrno.Badf;
        // A 24-byte fdstat, zero but for fs_rights_base = FD_WRITE (64).
        if (!w.mem.inBounds(statPtr, 24)) return WasiErrno.Success;
        w.mem.u8.fill(0, statPtr >>> 0, (statPtr >>> 0) + 24);
        w.mem.setU64Parts(statPtr + 8, 0, 64);
        return WasiErrno.Success;
      }),
    ],
    ['fd_fdstat_set_flags', answer('i32 i32', WasiErrno.Nosys)],
    ['fd_fdstat_set_rights', stdio('i32 i64 i64', WasiErrno.Success)],
    ['fd_advise', answer('i32 i64 i64 i32', WasiErrno.Success)],
    ['fd_allocate', stdio('i32 i64 i64', WasiErrno.Success)],
    ['fd_datasync', stdio('i32', WasiErrno.Success)],
    ['fd_sync', stdio('i32', WasiErrno.Success)],
    ['fd_filestat_set_size', stdio('i32 i64', WasiErrno.Success)],
    ['fd_filestat_set_times', stdio('i32 i64 i64 i32', WasiErrno.Success)],
    ['fd_filestat_get', answer('i32 i32', WasiErrno.Badf)],
    ['fd_prestat_get', answer('i32 i32', WasiErrno.Badf)],
    ['fd_prestat_dir_name', answer('i32 i32 i32', WasiErrno.Nosys)],
    [
      'fd_readdir',
      fn('i32 i32 i32 i64 i32', (w) => (_fd: number, _buf: number, _len: number, _cookie: bigint, nreadPtr: number) =>
        w.mem.setU32(nreadPtr, 0) ? WasiErrno.Notdir : WasiErrno.Fault,
      ),
    ],
    [
      'fd_renumber',
      fn('i32 i32', () => (fd: number, to: number) =>
        isStdio(fd) && isStdio(to) ? WasiErrno.Notsup : WasiErrno.Badf,
      ),
    ],
    [
      'fd_tell',
      fn('i32 i32', (w) => (fd: number, ptr: number) => {
        if (!isStdio(fd)) return WasiErrno.Badf;
        return w.mem.setU64Parts(ptr, 0, 0) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    ['path_open', answer('i32 i32 i32 i32 i32 i64 i64 i32 i32', WasiErrno.Noent)],
    ['path_create_directory', answer('i32 i32 i32', WasiErrno.Notsup)],
    ['path_filestat_get', answer('i32 i32 i32 i32 i32', WasiErrno.Notsup)],
    ['path_filestat_set_times', answer('i32 i32 i32 i32 i64 i64 i32', WasiErrno.Notsup)],
    // cpp-host declares these two with one argument fewer than WASI; Envoy links them so.
    ['path_link', answer('i32 i32 i32 i32 i32 i32', WasiErrno.Notsup)],
    ['path_symlink', answer('i32 i32 i32 i32', WasiErrno.Notsup)],
    [
      'path_readlink',
      fn('i32 i32 i32 i32 i32 i32', (w) => (_fd: number, _p: number, _pl: number, _b: number, _bl: number, nPtr: number) =>
        w.mem.setU32(nPtr, 0) ? WasiErrno.Notsup : WasiErrno.Fault,
      ),
    ],
    ['path_remove_directory', answer('i32 i32 i32', WasiErrno.Notsup)],
    ['path_rename', answer('i32 i32 i32 i32 i32 i32', WasiErrno.Notsup)],
    ['path_unlink_file', answer('i32 i32 i32', WasiErrno.Notsup)],
    [
      'sock_accept',
      fn('i32 i32 i32', (w) => (_fd: number, _flags: number, ptr: number) =>
        w.mem.setU64Parts(ptr, 0, 0) ? WasiErrno.Notsup : WasiErrno.Fault,
      ),
    ],
    [
      'sock_recv',
      fn('i32 i32 i32 i32 i32 i32', (w) => (_fd: number, _d: number, _l: number, _f: number, nPtr: number, flagsPtr: number) =>
        w.mem.setU32(nPtr, 0) && w.mem.setU16(flagsPtr, 0) ? WasiErrno.Notsup : WasiErrno.Fault,
      ),
    ],
    [
      'sock_send',
      fn('i32 i32 i32 i32 i32', (w) => (_fd: number, _d: number, _l: number, _f: number, nPtr: number) =>
        w.mem.setU32(nPtr, 0) ? WasiErrno.Notsup : WasiErrno.Fault,
      ),
    ],
    ['sock_shutdown', answer('i32 i32', WasiErrno.Notsup)],
    [
      'environ_sizes_get',
      fn('i32 i32', (w) => (countPtr: number, sizePtr: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.environ_sizes_get');
        if (!w.mem.setU32(countPtr, w.envs.length)) return WasiErrno.Fault;
        let size = 0;
        for (const [k, v] of w.envs) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
        return w.mem.setU32(sizePtr, size) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    [
      'environ_get',
      fn('i32 i32', (w) => (arrayPtr: number, bufPtr: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.environ_get');
        for (const [k, v] of w.envs) {
          if (!w.mem.setU32(arrayPtr, bufPtr)) return WasiErrno.Fault;
          const entry = Buffer.from(`${k}=${v}\0`);
          if (!w.mem.write(bufPtr, entry)) return WasiErrno.Fault;
          bufPtr += entry.length;
          arrayPtr += 4;
        }
        return WasiErrno.Success;
      }),
    ],
    [
      'args_sizes_get',
      fn('i32 i32', (w) => (argcPtr: number, sizePtr: number) =>
        w.mem.setU32(argcPtr, 0) && w.mem.setU32(sizePtr, 0) ? WasiErrno.Success : WasiErrno.Fault,
      ),
    ],
    ['args_get', answer('i32 i32', WasiErrno.Success)],
    [
      'clock_time_get',
      fn('i32 i64 i32', (w) => (clockId: number, _precision: bigint, ptr: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.clock_time_get');
        const clock = w.services.clock;
        let ms: number;
        if (clockId === WasiClockId.Realtime) ms = clock.now();
        else if (clockId === WasiClockId.Monotonic) ms = clock.monotonic();
        else return WasiErrno.Notsup;
        return w.mem.setNanosFromMillis(ptr, ms) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    [
      'clock_res_get',
      fn('i32 i32', (w) => (clockId: number, ptr: number) => {
        if (clockId !== WasiClockId.Realtime && clockId !== WasiClockId.Monotonic) return WasiErrno.Notsup;
        return w.mem.setU64Parts(ptr, 0, 1) ? WasiErrno.Success : WasiErrno.Fault;
      }),
    ],
    [
      'random_get',
      fn('i32 i32', (w) => (ptr: number, len: number) => {
        checkAllowed(w, 'wasi_snapshot_preview1.random_get');
        len >>>= 0;
        if (len > RANDOM_MAX) return WasiErrno.Inval;
        if (len === 0) return WasiErrno.Success;
        const target = w.mem.bytes(ptr, len);
        if (target === null) return WasiErrno.Fault;
        w.services.random(target);
        return WasiErrno.Success;
      }),
    ],
    ['sched_yield', answer('', WasiErrno.Success)],
    [
      'poll_oneoff',
      fn('i32 i32 i32 i32', (w) => (_in: number, _out: number, _n: number, neventsPtr: number) =>
        w.mem.setU32(neventsPtr, 0) ? WasiErrno.Success : WasiErrno.Fault,
      ),
    ],
    [
      'proc_exit',
      fn(
        'i32',
        (w) => () => {
          w.effectiveContext().log(LogLevel.Trace, 'wasi_unstable proc_exit');
        },
        false,
      ),
    ],
  ];
}
