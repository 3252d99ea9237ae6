/**
 * `mesh-filters package`: each filter as an OCI image layout in Istio's Wasm image format
 * (solo-io/wasm spec-compat.md, read by Istio's pkg/wasm), read back here without the code
 * that wrote it: index → manifest → config → layer, every digest and size, the media types
 * as the OCI image spec and the compat spec name them, and `plugin.wasm` byte for byte.
 * The same module gives the same bytes (so the same digest). Where `skopeo` is installed,
 * it reads each layout too.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll } from '../../harness/build.ts';
import { FILTER_NAMES } from '../../harness/envoy/istio.ts';
import { packageFilters, wasmImage } from '../../harness/package/oci.ts';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The values the specs give (image-spec media-types.md; spec-compat.md). */
const SPEC = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  compatLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  variant: ['module.wasm.image/variant', 'compat'],
};

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A blob of the layout `dir`, checked against its descriptor (digest = sha256 of the bytes, size = their length). */
function blob(dir: string, d: Descriptor): Buffer {
  expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  const bytes = readFileSync(path.join(dir, 'blobs', 'sha256', d.digest.slice(7)));
  expect(`sha256:${sha256(bytes)}`).toBe(d.digest);
  expect(bytes.length).toBe(d.size);
  return bytes;
}

/** The entries of a tar archive: name, header, bytes. */
async function untar(tar: Buffer): Promise<{ name: string; header: Record<string, unknown>; bytes: Buffer }[]> {
  const out: { name: string; header: Record<string, unknown>; bytes: Buffer }[] = [];
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, header: { ...entry.header }, bytes: Buffer.concat(chunks) });
  }
  return out;
}

/** Reads the layout in `dir` back and returns its manifest's digest and the plugin it carries. */
async function readLayout(dir: string, tag: string): Promise<{ digest: string; plugin: Buffer; blobs: string[] }> {
  expect(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  expect([index.schemaVersion, index.mediaType, index.manifests.length]).toEqual([2, SPEC.index, 1]);
  const ref: Descriptor = index.manifests[0];
  expect([ref.mediaType, ref.annotations]).toEqual([SPEC.manifest, { 'org.opencontainers.image.ref.name': tag }]);

  const manifest = JSON.parse(blob(dir, ref).toString('utf8'));
  expect([manifest.schemaVersion, manifest.mediaType, manifest.config.mediaType]).toEqual([2, SPEC.manifest, SPEC.config]);
  expect(manifest.layers.map((l: Descriptor) => l.mediaType)).toEqual([SPEC.compatLayer]); // exactly one layer
  expect(manifest.annotations[SPEC.variant[0]]).toBe(SPEC.variant[1]);

  const layerGz = blob(dir, manifest.layers[0]);
  expect([...layerGz.subarray(0, 2)]).toEqual([0x1f, 0x8b]); // gzip
  const tar = gunzipSync(layerGz);
  const config = JSON.parse(blob(dir, manifest.config).toString('utf8'));
  expect(config).toMatchObject({ architecture: expect.any(String), os: expect.any(String) });
  expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] });

  const entries = await untar(tar);
  expect(entries.map((e) => e.name)).toEqual(['plugin.wasm']);
  expect(entries[0].header).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) });
  return { digest: ref.digest, plugin: entries[0].bytes, blobs: readdirSync(path.join(dir, 'blobs', 'sha256')).sort() };
}

describe('mesh-filters package: OCI image layouts in Istio\'s Wasm image format', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-package-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  beforeAll(async () => {
    await buildAll({ only: [...FILTER_NAMES] });
  }, 300_000);

  it('writes one layout per filter that reads back to the module, every blob referenced and checked', async () => {
    const out = path.join(tmp, 'a');
    const packaged = await packageFilters(FILTER_NAMES, { root, out, tag: '1.2.3' });
    expect(packaged.map((p) => p.filter)).toEqual([...FILTER_NAMES]);
    for (const p of packaged) {
      const layout = await readLayout(p.dir, '1.2.3');
      expect(layout.digest).toBe(p.digest);
      expect(layout.plugin.equals(readFileSync(path.join(root, 'build', `${p.filter}.wasm`)))).toBe(true);
      expect(layout.blobs).toHaveLength(3); // manifest, config, layer: nothing else
    }
  });

  it('is reproducible: the same module gives the same bytes, another module another digest', async () => {
    const first = await packageFilters(['retry'], { root, out: path.join(tmp, 'b'), tag: 't' });
    await new Promise((r) => setTimeout(r, 1100)); // a second later: no clock reaches the bytes
    const second = await packageFilters(['retry'], { root, out: path.join(tmp, 'c'), tag: 't' });
    expect(second[0].digest).toBe(first[0].digest);
    const files = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
    expect(files(second[0].dir)).toEqual(files(first[0].dir));
    for (const f of files(first[0].dir)) expect(readFileSync(path.join(second[0].dir, f)), f).toEqual(readFileSync(path.join(first[0].dir, f)));
    const module = readFileSync(path.join(root, 'build/retry.wasm'));
    const changed = Buffer.concat([module, Buffer.from([0, 1, 0])]); // plus an empty custom section
    expect((await wasmImage(changed, 'retry')).manifest.digest).not.toBe(first[0].digest);
    await expect(wasmImage(Buffer.from('not wasm at all'), 'x')).rejects.toThrow(/not a WebAssembly module/);
  });

  it('the CLI builds stale modules, writes the layouts and prints each digest', async () => {
    const out = path.join(tmp, 'cli');
    const { stdout } = await run(process.execPath, ['bin/mesh-filters.js', 'package', '--out', out, '--tag', '9.9.9'], { cwd: root, timeout: 300_000 });
    for (const f of FILTER_NAMES) {
      const { digest } = await readLayout(path.join(out, f), '9.9.9');
      expect(stdout).toMatch(new RegExp(`^${f} +${digest}  `, 'm'));
    }
    expect(stdout).toContain(`skopeo copy oci:${path.join(out, '<filter>')} docker://`);
  }, 300_000);

  describe.skipIf(!hasSkopeo())('skopeo reads the layouts (optional: skopeo is not needed for npm test)', () => {
    it('inspects each image by its digest and copies it out', async () => {
      const out = path.join(tmp, 'skopeo');
      for (const p of await packageFilters(FILTER_NAMES, { root, out, tag: '0.1.0' })) {
        const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${p.dir}:0.1.0`]);
        expect(`sha256:${sha256(Buffer.from(stdout))}`).toBe(p.digest);
        await run('skopeo', ['copy', '--quiet', `oci:${p.dir}`, `dir:${path.join(out, `${p.filter}-copy`)}`]);
        expect(readFileSync(path.join(out, `${p.filter}-copy`, 'manifest.json'))).toEqual(readFileSync(path.join(p.dir, 'blobs', 'sha256', p.digest.slice(7))));
      }
    }, 120_000);
  });
});

function hasSkopeo(): boolean {
  return spawnSync('skopeo', ['--version']).status === 0;
}
