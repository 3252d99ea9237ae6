/**
 * `mesh-filters package`: each filter's module as an OCI image in Istio's Wasm image format,
 * the *compat* variant (solo-io/wasm `spec/spec-compat.md`, which Istio's `pkg/wasm`
 * image fetcher reads): one `application/vnd.oci.image.layer.v1.tar+gzip` layer holding
 * `plugin.wasm`, an `application/vnd.oci.image.config.v1+json` config, and the manifest
 * annotation `module.wasm.image/variant: compat`. Each image is written as an OCI image
 * layout (opencontainers/image-spec `image-layout.md`: `oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`) in `<out>/<filter>/`, which registry clients push as it is
 * (`skopeo copy oci:<out>/<filter> docker://...`, `oras cp --from-oci-layout`, `crane push`).
 *
 * Reproducible: the same module gives the same bytes, so the same manifest digest, which
 * is what Istio checks a WasmPlugin's `sha256` against for an `oci://` URL (`pkg/wasm`:
 * the pulled image's manifest digest, hex). The tar entry has a fixed mtime (0), owner
 * (0:0, no names) and mode (0644); the gzip stream has no name, mtime 0 and OS byte 255
 * (unknown), as Go's compress/gzip writes it, not the building platform's code; no
 * annotation holds a time.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants, gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/** Media types (opencontainers/image-spec `media-types.md`; the compat layer type per spec-compat.md). */
const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The annotation spec-compat.md requires on a compat image whose layer is `MEDIA_TYPES.layer`. */
const VARIANT_ANNOTATION = { 'module.wasm.image/variant': 'compat' } as const;

/** The file Istio extracts from the layer (`pkg/wasm`: the entry whose base name is `plugin.wasm`). */
const PLUGIN_FILE = 'plugin.wasm';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  /** `sha256:<64 hex>` of the blob's bytes. */
  digest: string;
  /** The blob's length in bytes. */
  size: number;
  annotations?: Record<string, string>;
}

export interface WasmImage {
  /** The manifest's descriptor: its `digest` is the image digest (what a WasmPlugin's `sha256` pins, without `sha256:`). */
  manifest: Descriptor;
  /** Every blob of the image by digest: the manifest, the config and the layer. */
  blobs: Map<string, Buffer>;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function blob(blobs: Map<string, Buffer>, mediaType: string, bytes: Buffer): Descriptor {
  const digest = `sha256:${sha256(bytes)}`;
  blobs.set(digest, bytes);
  return { mediaType, digest, size: bytes.length };
}

/** A tar archive of one file (ustar, fixed metadata). */
async function tarOf(name: string, content: Uint8Array): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name, size: content.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, Buffer.from(content));
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** gzip of `bytes` (RFC 1952) with the header's OS byte set to 255, "unknown", whatever platform zlib was built for. */
function gzip(bytes: Buffer): Buffer {
  const out = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  out[9] = 255;
  return out;
}

/**
 * The compat-variant image of one module. `title` goes into the manifest's
 * `org.opencontainers.image.title` (the filter's name); nothing else but the module's
 * bytes shapes the digest.
 */
export async function wasmImage(module: Uint8Array, title: string): Promise<WasmImage> {
  if (module.length < 8 || !Buffer.from(module.subarray(0, 4)).equals(WASM_MAGIC)) {
    throw new Error(`${title}: not a WebAssembly module (no \\0asm header)`);
  }
  const blobs = new Map<string, Buffer>();
  const tar = await tarOf(PLUGIN_FILE, module);
  const layer = blob(blobs, MEDIA_TYPES.layer, gzip(tar));
  // The image config's required fields (image-spec config.md). The module runs in Envoy's
  // Wasm VM on any platform: `wasm` is GOARCH's name for it; no GOOS value fits, so `unknown`.
  const config = blob(blobs, MEDIA_TYPES.config, json({
    architecture: 'wasm',
    os: 'unknown',
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
  }));
  const manifest = blob(blobs, MEDIA_TYPES.manifest, json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config,
    layers: [layer],
    annotations: { ...VARIANT_ANNOTATION, 'org.opencontainers.image.title': title },
  }));
  return { manifest, blobs };
}

const WASM_MAGIC = Buffer.from([0, 0x61, 0x73, 0x6d]);

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/**
 * Writes `image` as an OCI image layout in `dir`, replacing what was there; `tag` becomes
 * the manifest's `org.opencontainers.image.ref.name` in `index.json` (so `oci:<dir>:<tag>`
 * names it too; `oci:<dir>` alone takes the only manifest).
 */
function writeLayout(dir: string, image: WasmImage, tag: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of image.blobs) writeFileSync(path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [{ ...image.manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
}

export interface PackagedFilter {
  filter: string;
  /** The module packaged (`build/<filter>.wasm`). */
  module: string;
  /** The layout's directory. */
  dir: string;
  /** `sha256:<hex>`: the manifest digest. */
  digest: string;
}

/**
 * Packages each filter's `build/<filter>.wasm` (under `root`) into `<out>/<filter>/`,
 * tagged `tag`. The modules must be built (the CLI builds stale ones first).
 */
export async function packageFilters(filters: readonly string[], opts: { root: string; out: string; tag: string }): Promise<PackagedFilter[]> {
  const packaged: PackagedFilter[] = [];
  for (const filter of filters) {
    const module = path.join(opts.root, 'build', `${filter}.wasm`);
    const image = await wasmImage(readFileSync(module), filter);
    const dir = path.join(opts.out, filter);
    writeLayout(dir, image, opts.tag);
    packaged.push({ filter, module, dir, digest: image.manifest.digest });
  }
  return packaged;
}
