/**
 * Where a module's bytes go: `mesh-filters size <target...>`.
 *
 * Builds an `asconfig.json` target in memory (nothing is written to build/) twice: as
 * released, for the true size, and with `--debug`, whose name section tells which
 * function each code body is. Lists code bytes per function, per source file and per
 * folder (`assembly/json`, `~lib/string`...), and the data segments (static strings,
 * tables), so that a size goal can be worked against numbers.
 *
 * The binary format is read directly (WebAssembly Core Specification 2.0 §5.5: sections,
 * LEB128 sizes; the "name" custom section, Appendix 7.4): binaryen.js, the one wasm
 * library installed, does not report encoded sizes per function.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { listTargets, projectRoot, type BuildTarget } from './build.ts';
import { readModuleInfo } from './host/module-info.ts';

// ---------------------------------------------------------------------------
// Reading a module

/** Section ids of the binary format (spec §5.5.2). */
const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global',
  'export', 'start', 'element', 'code', 'data', 'datacount',
];

export interface SectionSize {
  id: number;
  /** `code`, `data`... or `custom:<name>`. */
  name: string;
  /** Bytes of the section, header included. */
  bytes: number;
}

export interface FunctionSize {
  /** Function index (imports first, as in the module). */
  index: number;
  /** Name from the name section (the compiler's internal name), or `$<index>`. */
  name: string;
  /** Bytes of the body in the code section, its size prefix included. */
  bytes: number;
}

export interface DataSegmentSize {
  index: number;
  /** Bytes of the segment's contents. */
  bytes: number;
  /** Memory offset when the segment is active with a constant offset, else -1. */
  offset: number;
  /** Printable start of the contents (AssemblyScript strings are UTF-16). */
  preview: string;
}

export interface ModuleSizes {
  total: number;
  sections: SectionSize[];
  importedFunctions: number;
  functions: FunctionSize[];
  data: DataSegmentSize[];
  exports: string[];
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end = bytes.length) {}

  byte(): number {
    if (this.pos >= this.end) throw new Error(`wasm: truncated at byte ${this.pos}`);
    return this.bytes[this.pos++];
  }

  /** Unsigned LEB128 (spec §5.2.2), up to 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error(`wasm: LEB128 too long at byte ${this.pos}`);
    }
  }

  /** Signed LEB128, as for i32.const offsets. */
  s32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return shift < 32 && (b & 0x40) ? result | (~0 << shift) : result;
  }

  name(): string {
    const n = this.u32();
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  skip(n: number): void {
    this.pos += n;
  }
}

// Readable start of a data segment: UTF-16 text when it looks like an AssemblyScript
// string (ASCII in every other byte), else ASCII with dots, else hex.
function preview(bytes: Uint8Array): string {
  const n = Math.min(bytes.length, 96);
  let utf16 = '';
  let utf16Ok = n >= 4;
  for (let i = 0; i + 1 < n && utf16Ok; i += 2) {
    const c = bytes[i] | (bytes[i + 1] << 8);
    if (c >= 0x20 && c < 0x7f) utf16 += String.fromCharCode(c);
    else if (c === 0x0a) utf16 += '\\n';
    else utf16Ok = false;
  }
  if (utf16Ok && utf16.length >= 2) return JSON.stringify(utf16.slice(0, 48));
  let ascii = 0;
  for (let i = 0; i < n; i++) if (bytes[i] >= 0x20 && bytes[i] < 0x7f) ascii++;
  if (ascii > n * 0.8) return JSON.stringify(String.fromCharCode(...bytes.subarray(0, Math.min(n, 48))));
  return Buffer.from(bytes.subarray(0, Math.min(n, 16))).toString('hex') + (bytes.length > 16 ? '…' : '');
}

/** Sizes of every section, function body and data segment of `bytes` (a wasm binary). */
export function analyzeWasm(bytes: Uint8Array): ModuleSizes {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || !magic.every((b, i) => bytes[i] === b)) throw new Error('wasm: not a WebAssembly binary (bad magic)');
  const r = new Reader(bytes);
  r.pos = 8;
  const sections: SectionSize[] = [];
  const bodies: number[] = [];
  const data: DataSegmentSize[] = [];
  const names = new Map<number, string>();
  const exports: string[] = [];
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const contentStart = r.pos;
    const end = contentStart + size;
    if (end > bytes.length) throw new Error(`wasm: truncated: section ${id} at byte ${start} ends past the end`);
    let name = SECTION_NAMES[id] ?? `unknown(${id})`;
    const s = new Reader(bytes, end);
    s.pos = contentStart;
    if (id === 0) {
      const customName = s.name();
      name = `custom:${customName}`;
      if (customName === 'name') readFunctionNames(s, names);
    } else if (id === 7) {
      for (let i = 0, n = s.u32(); i < n; i++) {
        exports.push(s.name());
        s.byte();
        s.u32();
      }
    } else if (id === 10) {
      for (let i = 0, n = s.u32(); i < n; i++) {
        const bodyStart = s.pos;
        const bodySize = s.u32();
        s.skip(bodySize);
        bodies.push(s.pos - bodyStart);
      }
    } else if (id === 11) {
      for (let i = 0, n = s.u32(); i < n; i++) {
        const flags = s.u32();
        let offset = -1;
        if (flags === 2) s.u32(); // memory index
        if (flags === 0 || flags === 2) offset = readConstOffset(s);
        const length = s.u32();
        data.push({ index: i, bytes: length, offset, preview: preview(bytes.subarray(s.pos, s.pos + length)) });
        s.skip(length);
      }
    }
    sections.push({ id, name, bytes: end - start });
    r.pos = end;
  }
  // Function indices count imports first; the host's module reader already walks imports.
  const importedFunctions = readModuleInfo(bytes).imports.filter((i) => i.kind === 'function').length;
  const functions = bodies.map((b, i) => {
    const index = importedFunctions + i;
    return { index, name: names.get(index) ?? `$${index}`, bytes: b };
  });
  return { total: bytes.length, sections, importedFunctions, functions, data, exports };
}

// A constant expression `i32.const n end` (anything else: -1).
function readConstOffset(r: Reader): number {
  const op = r.byte();
  let value = -1;
  if (op === 0x41) value = r.s32();
  else if (op === 0x23) r.u32(); // global.get
  while (r.byte() !== 0x0b);
  return value;
}

// The function names subsection (id 1) of the "name" section.
function readFunctionNames(r: Reader, names: Map<number, string>): void {
  while (r.pos < r.end) {
    const sub = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (sub === 1) {
      for (let i = 0, n = r.u32(); i < n; i++) {
        const index = r.u32();
        names.set(index, r.name());
      }
    }
    r.pos = end;
  }
}

// ---------------------------------------------------------------------------
// Attributing functions to source

/** `name` without generic arguments (`Map<u32,foo/Bar>#set` → `Map#set`). */
function withoutTypeArguments(name: string): string {
  let out = '';
  let depth = 0;
  for (const c of name) {
    if (c === '<') depth++;
    else if (c === '>' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/**
 * Source file of an AssemblyScript internal function name: `assembly/json/value/JsonValue#get`
 * → `assembly/json/value`; `~lib/string/String.UTF8.encode` → `~lib/string`;
 * `start:filters/retry/config` → `filters/retry/config`. Functions the optimizer made
 * (`byn$…` merged or outlined bodies) and runtime helpers (`~start`) are `(compiler)`.
 */
export function sourceFileOf(name: string): string {
  // Bodies binaryen split off or outlined keep the original name after the last '$'.
  let n = withoutTypeArguments(name.startsWith('byn') ? name.slice(name.lastIndexOf('$') + 1) : name);
  if (n.startsWith('start:')) return n.slice('start:'.length);
  const cut = n.search(/[#]/);
  if (cut >= 0) n = n.slice(0, cut);
  const slash = n.lastIndexOf('/');
  if (slash < 0) return '(compiler)';
  return n.slice(0, slash);
}

/** Folder a source file belongs to, for a coarse view: `assembly/json`, `filters/retry`, `~lib/rt`. */
export function folderOf(file: string): string {
  if (file === '(compiler)') return file;
  const parts = file.split('/');
  // The runtime (rt: GC and allocator) and util (number formatting, casing) apart from the rest.
  if (parts[0] === '~lib') return parts[1] === 'rt' || parts[1] === 'util' ? `~lib/${parts[1]}` : '~lib';
  if (parts[0] === 'assembly' && parts[1] === 'proxy-wasm') return parts.length > 3 ? 'assembly/proxy-wasm' : parts.slice(0, 2).join('/');
  return parts.slice(0, Math.min(2, parts.length - 1)).join('/') || file;
}

export interface Group {
  key: string;
  bytes: number;
  functions: number;
}

export function groupFunctions(functions: FunctionSize[], keyOf: (f: FunctionSize) => string): Group[] {
  const groups = new Map<string, Group>();
  for (const f of functions) {
    const key = keyOf(f);
    const g = groups.get(key) ?? { key, bytes: 0, functions: 0 };
    g.bytes += f.bytes;
    g.functions++;
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes || a.key.localeCompare(b.key));
}

// ---------------------------------------------------------------------------
// Building

export interface SizeBuildOptions {
  /** Keep the name section (`--debug`). */
  debug?: boolean;
  /** Extra asc arguments after the target's own, e.g. `['--shrinkLevel', '2']`. */
  extraArgs?: string[];
  /** Project to build from (default: this one), e.g. a checkout of another commit to compare with. */
  root?: string;
}

/** Compiles `target` in memory with its asconfig options; returns the binary. */
export async function compileTarget(target: BuildTarget, opts: SizeBuildOptions = {}): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  let diagnostics = '';
  const outFile = path.join('build', 'size', `${target.name}.wasm`);
  const args = [
    target.entry, '--config', 'asconfig.json', '--target', target.name, '--baseDir', opts.root ?? projectRoot,
    '--outFile', outFile,
    ...(opts.debug ? ['--debug'] : []),
    ...(opts.extraArgs ?? []),
  ];
  const sink = { write: (s: string) => { diagnostics += s; return true; } } as never;
  const { error } = await asc.main(args, {
    stdout: sink,
    stderr: sink,
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
  });
  if (error) throw new Error(`${target.name}: ${error.message}\n${diagnostics}`);
  if (!binary) throw new Error(`${target.name}: asc wrote no binary`);
  return binary;
}

export interface TargetSizes {
  target: string;
  /** Size as released (the target's own options). */
  bytes: number;
  /** The same build with names, for attribution (its code may differ slightly). */
  named: ModuleSizes;
}

export async function measureTarget(name: string, extraArgs: string[] = [], root = projectRoot): Promise<TargetSizes> {
  const target = (await listTargets(root)).find((t) => t.name === name);
  if (!target) throw new Error(`unknown target '${name}'`);
  const release = await compileTarget(target, { extraArgs, root });
  const named = analyzeWasm(await compileTarget(target, { debug: true, extraArgs, root }));
  return { target: name, bytes: release.length, named };
}

/** Sizes of a binary already on disk (names only if it was built with them). */
export async function measureFile(file: string): Promise<ModuleSizes> {
  return analyzeWasm(new Uint8Array(await readFile(file)));
}

// ---------------------------------------------------------------------------
// Report

const kb = (n: number) => (n / 1000).toFixed(1).padStart(7) + ' KB';

function table(rows: Group[], total: number, limit: number): string[] {
  const lines: string[] = [];
  for (const g of rows.slice(0, limit)) {
    lines.push(`${kb(g.bytes)} ${((100 * g.bytes) / total).toFixed(1).padStart(5)}%  ${String(g.functions).padStart(4)} fn  ${g.key}`);
  }
  if (rows.length > limit) {
    const rest = rows.slice(limit).reduce((s, g) => s + g.bytes, 0);
    lines.push(`${kb(rest)}                 … ${rows.length - limit} more`);
  }
  return lines;
}

export interface ReportOptions {
  /** Rows per table. */
  top?: number;
  /** Only functions whose name contains this (case-insensitive). */
  filter?: string;
}

/** A human-readable report of `sizes`. */
export function formatReport(sizes: TargetSizes, opts: ReportOptions = {}): string {
  const top = opts.top ?? 25;
  const m = sizes.named;
  const names = m.sections.filter((s) => s.name === 'custom:name').reduce((s, x) => s + x.bytes, 0);
  const code = m.sections.filter((s) => s.name === 'code').reduce((s, x) => s + x.bytes, 0);
  const dataBytes = m.sections.filter((s) => s.name === 'data').reduce((s, x) => s + x.bytes, 0);
  const lines: string[] = [];
  lines.push(`# ${sizes.target}: ${sizes.bytes} bytes (${(sizes.bytes / 1024).toFixed(1)} KiB) as built`);
  lines.push(`named build: ${m.total - names} bytes without its name section; code ${code}, data ${dataBytes}, ` +
    `${m.functions.length} functions, ${m.importedFunctions} imports, ${m.exports.length} exports`);
  lines.push('');
  lines.push('## sections');
  for (const s of [...m.sections].sort((a, b) => b.bytes - a.bytes)) {
    if (s.name !== 'custom:name') lines.push(`${kb(s.bytes)}  ${s.name}`);
  }
  const fns = opts.filter ? m.functions.filter((f) => f.name.toLowerCase().includes(opts.filter!.toLowerCase())) : m.functions;
  const fnTotal = fns.reduce((s, f) => s + f.bytes, 0);
  lines.push('', `## code by folder${opts.filter ? ` (functions matching "${opts.filter}")` : ''}`);
  lines.push(...table(groupFunctions(fns, (f) => folderOf(sourceFileOf(f.name))), code, top));
  lines.push('', '## code by file');
  lines.push(...table(groupFunctions(fns, (f) => sourceFileOf(f.name)), code, top));
  lines.push('', `## largest functions (${fns.length}, ${fnTotal} bytes)`);
  for (const f of [...fns].sort((a, b) => b.bytes - a.bytes).slice(0, top)) {
    lines.push(`${kb(f.bytes)}  ${f.name}`);
  }
  lines.push('', `## data segments (${m.data.length}, ${m.data.reduce((s, d) => s + d.bytes, 0)} bytes), largest`);
  for (const d of [...m.data].sort((a, b) => b.bytes - a.bytes).slice(0, Math.min(top, 15))) {
    lines.push(`${kb(d.bytes)}  @${d.offset}  ${d.preview}`);
  }
  return lines.join('\n');
}
