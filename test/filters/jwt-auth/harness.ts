/**
 * Shared by the jwt-auth suites: key pairs of every JWS algorithm (made with `jose`, the
 * oracle of the differential suite), tokens signed with them, configurations, and the
 * emulator (fake clock) driving build/jwt-auth.wasm one request at a time.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { projectRoot } from '../../../harness/build.ts';
import { WasmEmulator } from '../../../harness/host/emulator.ts';
import type { HostcallObserver } from '../../../harness/host/services.ts';
import type { SharedState } from '../../../harness/host/shared/shared-state.ts';
import type { LocalReply } from '../../../harness/host/filter.ts';
import { wasmHttpFilter } from '../../integration/wasm-filter.ts';
import { ensureBuilt } from '../../sdk/build.ts';
import { filterEmulator } from '../emulator.ts';
import { compileTestModule, mtimeOf } from '../test-module.ts';

export const ROOT_ID = 'jwt-auth';
export const ISSUER = 'https://auth.mesh.test';
export const AUDIENCE = 'mesh-api';

/** The `envoy.filters.http.wasm` entry of a bootstrap running `wasm` as jwt-auth with `config`. */
export const wasmFilter = (wasm: string, config: unknown): Record<string, unknown> => wasmHttpFilter(ROOT_ID, wasm, config);

/** Builds build/jwt-auth.wasm if stale; returns its path. */
export const buildJwtAuth = (): Promise<string> => ensureBuilt('jwt-auth');

/**
 * Builds the control module whose JWKS lease write skips CAS (filters/jwt-auth/__tests__/
 * racy-entry.ts) with the jwt-auth target's options (../test-module.ts), when older than
 * build/jwt-auth.wasm or its entry.
 */
export async function buildNoCas(): Promise<string> {
  const filter = await buildJwtAuth();
  const out = path.join(projectRoot, 'build', 'test', 'jwt-auth-no-cas.wasm');
  const entry = 'filters/jwt-auth/__tests__/racy-entry.ts';
  if (mtimeOf(out) >= Math.max(mtimeOf(filter), mtimeOf(path.join(projectRoot, entry)))) return out;
  return compileTestModule(entry, 'jwt-auth', out);
}

export const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'] as const;
export const SYMMETRIC = ['HS256', 'HS384', 'HS512'] as const;
export const ALGORITHMS = [...SYMMETRIC, ...ASYMMETRIC] as const;
export type Alg = (typeof ALGORITHMS)[number];

/** A signing key with its public JWK (`kid` = the key's name). */
export interface SigningKey {
  alg: Alg;
  kid: string;
  /** What `SignJWT.sign` takes. */
  key: CryptoKey | Uint8Array;
  /** The JWK a JWKS publishes (public half, or the `oct` secret). */
  jwk: JWK;
}

/** A fresh key for `alg` (RSA 2048; EC P-256 / P-384; Ed25519; HMAC secrets of the hash length). */
export async function makeKey(alg: Alg, kid: string = `${alg.toLowerCase()}-key`): Promise<SigningKey> {
  if (alg.startsWith('HS')) {
    const secret = randomBytes(Number(alg.slice(2)) / 8);
    return { alg, kid, key: secret, jwk: { kty: 'oct', kid, alg, k: Buffer.from(secret).toString('base64url') } };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}) });
  return { alg, kid, key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

/** One key per algorithm. */
export async function makeKeys(prefix = ''): Promise<Record<Alg, SigningKey>> {
  const out = {} as Record<Alg, SigningKey>;
  await Promise.all(ALGORITHMS.map(async (alg) => (out[alg] = await makeKey(alg, `${prefix}${alg.toLowerCase()}`))));
  return out;
}

export function jwksOf(keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

/** Signs `payload` with `key` (header `alg`, `kid` unless `kid` is null). */
export function sign(key: SigningKey, payload: JWTPayload, header: { kid?: string | null; typ?: string } = {}): Promise<string> {
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, ...(kid !== null ? { kid } : {}), ...(header.typ ? { typ: header.typ } : {}) }).sign(key.key);
}

/** Claims of a token valid at `nowSeconds` for an hour. */
export function claims(nowSeconds: number, extra: JWTPayload = {}): JWTPayload {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: nowSeconds, exp: nowSeconds + 3600, ...extra };
}

/** base64url of a JSON value (for hand-made tokens). */
export const b64json = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export interface Exchange {
  id: number;
  /** 0 Continue, 4 StopAllIterationAndWatermark. */
  status: number;
  reply?: LocalReply;
  /** Request headers after the filter. */
  headers: Record<string, string>;
  /** Values of headers sent several times, joined with '|'. */
  all: (name: string) => string;
}

/**
 * An emulator running build/jwt-auth.wasm with `config`. Emulators given the same `shared`
 * state share a VM (one worker of one data plane) unless their `vmConfiguration` differs;
 * `workers` makes the VMs of several workers over one store and clock.
 */
export async function emulator(
  wasm: string,
  config: unknown,
  opts: { shared?: SharedState; startTimeMs?: number; clusters?: string[]; vmConfiguration?: string; onHostcall?: HostcallObserver } = {},
): Promise<WasmEmulator> {
  return filterEmulator(ROOT_ID, wasm, config, opts);
}

/**
 * `count` workers' VMs of `wasm` as jwt-auth with `config` (`WasmEmulator.createWorkers`:
 * one shared-data store and fake clock), allowed to call `clusters`.
 */
export function workers(count: number, wasm: string, config: unknown, opts: { startTimeMs?: number; clusters?: string[] } = {}): Promise<WasmEmulator[]> {
  return WasmEmulator.createWorkers(count, { wasm, name: ROOT_ID, rootId: ROOT_ID, vmId: ROOT_ID, pluginConfiguration: JSON.stringify(config), ...opts });
}

/** Sends request headers for `path` with `headers`; returns what the filter did (the stream stays open). */
export function send(emu: WasmEmulator, path: string, headers: Record<string, string> | [string, string][] = {}, method = 'GET'): Exchange {
  const id = emu.initializeHttpContext();
  const base: [string, string][] = [[':method', method], [':path', path], [':authority', 'api.mesh.test'], [':scheme', 'https']];
  const extra = Array.isArray(headers) ? headers : Object.entries(headers);
  const status = emu.callOnRequestHeaders(id, [...base, ...extra], true);
  return observe(emu, id, status);
}

/** The state of stream `id` now (after a resume from the root, say). */
export function observe(emu: WasmEmulator, id: number, status = -1): Exchange {
  const pairs = emu.getCurrentRequestHeaders(id);
  return {
    id,
    status,
    reply: emu.getSentLocalResponse(id),
    headers: Object.fromEntries(pairs),
    all: (name) => pairs.filter(([k]) => k === name).map(([, v]) => v).join('|'),
  };
}

/** The reply's body as JSON. */
export const bodyOf = (reply: LocalReply | undefined): unknown => JSON.parse(Buffer.from(reply!.body as string).toString());

/** A reply header. */
export const replyHeader = (reply: LocalReply | undefined, name: string): string | undefined => reply?.headers?.find(([k]) => k === name)?.[1];
