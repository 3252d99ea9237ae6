/**
 * Memory of a running Envoy, read from /proc (Linux, proc(5)): its resident set
 * (`/proc/<pid>/status` VmRSS) and the linear memory of each of its Wasm VMs.
 *
 * V8 reserves every 32-bit Wasm memory as one 8 GiB region of address space (the
 * memory plus guard pages, so that bounds checks are left to the MMU): the memory's
 * current pages are an anonymous `rw-p` mapping at the start of the region, the rest an
 * anonymous `---p` mapping (the guard, over 4 GiB since a memory has at most 4 GiB) right
 * after it. So a memory is the `rw-p` mapping below such a guard. The two need not add up
 * to exactly 8 GiB: the kernel merges a mapping with a like neighbour (seen: a 64 KiB
 * `---p` above the guard, once in ten starts), which would also add a `rw-p` neighbour
 * below to the memory's size, a constant that leaves growth as it is. A growing memory
 * (`memory.grow`) turns guard pages into `rw-p` ones, so the mapping keeps its start
 * address. With envoy/mesh.yaml (5 plugins, 2 workers) on Envoy 1.40 that makes
 * 20 memories, as many as `wasm.envoy.wasm.runtime.v8.active` VMs (checked 2026-12-07).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** Size of a Wasm page (WebAssembly core spec, memory instances). */
export const WASM_PAGE = 64 * 1024;
/** Wasm guards are larger than this: 8 GiB less a memory of at most 4 GiB. */
const MIN_GUARD = 4n * 1024n ** 3n;

/** VmRSS of process `pid` in bytes. Throws when the process is gone. */
export function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kb) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(kb[1]) * 1024;
}

/**
 * The Wasm linear memories of process `pid` (from `/proc/<pid>/maps`): start address
 * (hex, which names the VM for as long as it lives) → size in bytes.
 */
export function wasmMemories(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let prev: { start: bigint; end: bigint; anonRw: boolean } | undefined;
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    // `start-end perms offset dev inode [path]`
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    const anon = m[4] === '0' && m[5] === '';
    if (anon && m[3] === '---p' && end - start > MIN_GUARD && prev?.anonRw && prev.end === start) {
      out.set(`0x${prev.start.toString(16)}`, Number(prev.end - prev.start));
    }
    prev = { start, end, anonRw: anon && m[3] === 'rw-p' };
  }
  return out;
}

/**
 * Which plugin each memory of `memories` (`wasmMemories`) belongs to, read from the
 * memory itself (`/proc/<pid>/mem`): `markers` maps a plugin's name to strings of its
 * configuration that no other plugin's has; a memory holding (UTF-8 or, as AssemblyScript
 * keeps strings, UTF-16) those of exactly one plugin is that plugin's, others get ''.
 */
export function memoryOwners(pid: number, memories: ReadonlyMap<string, number>, markers: ReadonlyMap<string, string[]>): Map<string, string> {
  const out = new Map<string, string>();
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r');
    for (const [address, bytes] of memories) {
      const memory = Buffer.alloc(bytes);
      readSync(fd, memory, 0, bytes, Number(BigInt(address)));
      const holds = (s: string) => memory.includes(Buffer.from(s, 'utf8')) || memory.includes(Buffer.from(s, 'utf16le'));
      const owners = [...markers].filter(([, strings]) => strings.some(holds)).map(([name]) => name);
      out.set(address, owners.length === 1 ? owners[0] : '');
    }
  } catch {
    // Not allowed to read another process's memory here: no owners.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return out;
}
