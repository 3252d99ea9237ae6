/**
 * Remote JWKS, shared by all worker VMs (after Envoy's jwt_authn JwksCache and
 * JwksAsyncFetcher, jwks_cache.cc / jwks_async_fetcher.cc, with the keys moved to
 * proxy-wasm shared data so that N workers fetch once, not N times).
 *
 * Each worker keeps the parsed keys of each remote provider and the generation they
 * came from; it picks up newer ones when the shared state record's generation moves
 * (read every tick, and whenever a request lacks keys or a `kid`). Fetches go out with
 * `proxy_http_call` from the root context, by whichever worker first takes the lease
 * with compare-and-swap (jwks-state.ts has the records and the rules). A fetch fails
 * on zero headers (reset), on any status but 200 — Envoy's async client answers a
 * timed-out call with its router's local reply, `504` — on a body over 1 MiB, and on a
 * document without usable keys; keys held so far stay in use.
 *
 * Shared data keys: `jwt-auth/<provider>/<uri>/state` and `.../keys` (per vm_id).
 */
import {
  HeaderPair, RootContext, WasmResult, getSharedData, httpCallResponseBody, httpCallResponseHeaders, logInfo, logWarn,
  setSharedData,
} from "../../assembly/proxy-wasm";
import { JwtAuthConfig, Provider, RemoteJwks } from "./config";
import { JwkSet, JwksParse, parseJwks } from "./jwks";
import {
  JwksState, LEASE_GRACE_MS, encodeKeysRecord, keysRecordDocument, keysRecordDocumentLength, keysRecordGeneration,
} from "./jwks-state";
import { KeySource, KeyWait } from "./key-source";
import { Stats } from "./stats";

/** Largest JWKS document accepted from a remote. */
const MAX_JWKS_BYTES: usize = 1 << 20;
/**
 * `cas` for creating a record that must not exist yet: the host compares a non-zero cas
 * with the stored one (CasMismatch when the key exists) and creates an absent key
 * whatever the cas (proxy-wasm-cpp-host shared_data.cc). A stored cas equal to this
 * value would let the write through; hosts hand out cas values from a counter, so that
 * is one chance in 2^32.
 */
const CREATE_CAS: u32 = 0xffff_ffff;
/** Compare-and-swap attempts before giving up for now (the next tick tries again). */
const CAS_ATTEMPTS: i32 = 16;

/** One remote provider's keys in this worker. */
class RemoteKeys {
  set: JwkSet | null = null;
  /** Generation of `set` (0: none). */
  generation: u64 = 0;
  /** Fetch attempts finished, as last seen in the shared state. */
  attempts: u32 = 0;
  /** The fetch this worker has in flight (0: none), when to stop waiting for its answer,
   * and the lease it holds (JwksState.leaseOwner). */
  callId: u32 = 0;
  callDeadline: i64 = 0;
  lease: u32 = 0;
  /** Logged the current stretch of `on_jwks_unavailable: "allow"` already. */
  loggedUnavailable: bool = false;
  readonly stateKey: string;
  readonly keysKey: string;
  readonly headers: HeaderPair[];

  constructor(readonly provider: Provider, readonly remote: RemoteJwks) {
    const base = "jwt-auth/" + provider.name + "/" + remote.uri + "/";
    this.stateKey = base + "state";
    this.keysKey = base + "keys";
    this.headers = [
      new HeaderPair(":method", "GET"),
      new HeaderPair(":path", remote.path),
      new HeaderPair(":authority", remote.authority),
      new HeaderPair("accept", "application/jwk-set+json, application/json"),
    ];
  }
}

/** A state record read with its `cas` (CREATE_CAS when the record is absent). */
class ReadState {
  constructor(readonly state: JwksState, readonly cas: u32) {}
}

let leases: u32 = 0;

/** A lease number unlikely to be another worker's: a random draw (WASI random_get) plus a count. */
function nextLease(): u32 {
  if (leases == 0) leases = <u32>(Math.random() * 4294967295.0) | 1;
  leases += 2;
  return leases;
}

function readState(key: string): ReadState {
  const shared = getSharedData(key);
  if (!shared.found) return new ReadState(new JwksState(), CREATE_CAS);
  const state = JwksState.decode(shared.value);
  // Garbage under the key: start afresh, replacing it with CAS like any other update.
  return new ReadState(state !== null ? state : new JwksState(), shared.cas);
}

export class JwksCache extends KeySource {
  private readonly remotes: StaticArray<RemoteKeys | null>;

  constructor(private readonly root: RootContext, config: JwtAuthConfig, private readonly stats: Stats) {
    super();
    const n = config.providers.length;
    this.remotes = new StaticArray<RemoteKeys | null>(n);
    for (let i = 0; i < n; i++) {
      const p = unchecked(config.providers[i]);
      const remote = p.remote;
      if (remote !== null) unchecked((this.remotes[i] = new RemoteKeys(p, remote)));
    }
  }

  /** Whether some remote provider has no keys in this worker yet. */
  get missingKeys(): bool {
    const remotes = this.remotes;
    for (let i = 0, n = remotes.length; i < n; i++) {
      const r = unchecked(remotes[i]);
      if (r !== null && r.set === null) return true;
    }
    return false;
  }

  keys(provider: Provider): JwkSet | null {
    const local = provider.localJwks;
    if (local !== null) return local;
    const r = unchecked(this.remotes[provider.index]);
    return r === null ? null : r.set;
  }

  generation(provider: Provider): u64 {
    const r = unchecked(this.remotes[provider.index]);
    return r === null ? 1 : r.generation;
  }

  awaitKeys(provider: Provider, nowMs: i64, waitedFor: u32): KeyWait {
    const r = unchecked(this.remotes[provider.index]);
    if (r === null) return KeyWait.Unavailable;
    this.sync(r);
    if (r.set !== null) return KeyWait.Ready;
    if (waitedFor != 0 && r.attempts >= waitedFor) return KeyWait.Unavailable;
    return this.startFetch(r, nowMs, false);
  }

  pendingAttempt(provider: Provider): u32 {
    const r = unchecked(this.remotes[provider.index]);
    return r === null ? 0 : r.attempts + 1;
  }

  refetchForKid(provider: Provider, nowMs: i64): KeyWait {
    const r = unchecked(this.remotes[provider.index]);
    if (r === null) return KeyWait.Unavailable;
    const before = r.generation;
    this.sync(r);
    if (r.generation != before) return KeyWait.Ready;
    return this.startFetch(r, nowMs, true);
  }

  unavailableAllowed(provider: Provider): void {
    const r = unchecked(this.remotes[provider.index]);
    if (r === null || r.loggedUnavailable) return;
    r.loggedUnavailable = true;
    logWarn("jwt-auth: provider " + provider.name + ": JWKS unavailable, letting requests through (on_jwks_unavailable: allow)");
  }

  /**
   * Every tick: picks up keys other workers fetched, and starts the first fetch, a due
   * refresh or a retry when no worker is fetching.
   */
  onTick(nowMs: i64): void {
    const remotes = this.remotes;
    for (let i = 0, n = remotes.length; i < n; i++) {
      const r = unchecked(remotes[i]);
      if (r === null) continue;
      const state = this.sync(r);
      if ((r.callId == 0 || nowMs >= r.callDeadline) && state.mayFetch(nowMs, false, r.set !== null)) this.startFetch(r, nowMs, false);
    }
  }

  /**
   * Loads the shared keys when their generation differs from this worker's, and notes
   * the attempts finished. Returns the state read (an empty one when there is none).
   */
  private sync(r: RemoteKeys): JwksState {
    const shared = getSharedData(r.stateKey);
    if (!shared.found) return new JwksState();
    const state = JwksState.decode(shared.value);
    if (state === null) return new JwksState();
    r.attempts = state.attempts;
    if (state.generation == 0 || state.generation == r.generation) return state;
    const record = getSharedData(r.keysKey).value;
    const generation = keysRecordGeneration(record);
    if (generation == 0 || generation == r.generation) return state;
    const parsed = parseJwks(keysRecordDocument(record!), keysRecordDocumentLength(record!));
    if (parsed.set !== null) {
      r.set = parsed.set;
      r.generation = generation;
    }
    return state;
  }

  /** Takes the fetch lease with CAS and sends the request; Waiting while some worker fetches. */
  private startFetch(r: RemoteKeys, nowMs: i64, forKid: bool): KeyWait {
    if (r.callId != 0) {
      if (nowMs < r.callDeadline) return KeyWait.Waiting;
      // The host never answered (it must, at the call's timeout): count it as failed.
      r.callId = 0;
      this.stats.countJwksFetch(r.provider.index, false);
      this.finish(r, nowMs, null);
    }
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const read = readState(r.stateKey);
      const state = read.state;
      if (state.fetching(nowMs)) return KeyWait.Waiting;
      // A fetch finished since this worker last looked: take its keys rather than fetch again.
      if (state.generation != r.generation && this.sync(r).generation == r.generation) return KeyWait.Ready;
      if (!state.mayFetch(nowMs, forKid, r.set !== null)) return KeyWait.Unavailable;
      state.fetchingUntil = nowMs + <i64>r.remote.timeoutMs + LEASE_GRACE_MS;
      state.leaseOwner = r.lease = nextLease();
      state.lastAttemptAt = nowMs;
      if (forKid) state.lastKidRefetchAt = nowMs;
      const written = this.writeLease(r.stateKey, state.encode(), read.cas);
      if (written == WasmResult.CasMismatch) continue;
      if (written != WasmResult.Ok) return KeyWait.Unavailable;
      const call = this.root.httpCall(r.remote.cluster, r.headers, null, null, r.remote.timeoutMs);
      if (!call.ok) {
        logWarn("jwt-auth: provider " + r.provider.name + ": cannot fetch JWKS from cluster \"" + r.remote.cluster + "\" (" + call.status.toString() + ")");
        this.stats.countJwksFetch(r.provider.index, false);
        this.finish(r, nowMs, null);
        return KeyWait.Unavailable;
      }
      r.callId = call.callId;
      r.callDeadline = state.fetchingUntil;
      return KeyWait.Waiting;
    }
    return KeyWait.Waiting;
  }

  /**
   * Writes the state record that takes the fetch lease, with the `cas` it was read with:
   * a worker that read the same record and wrote first makes this CasMismatch. (A test
   * module overrides it to widen the race and to show what a write without CAS does.)
   */
  protected writeLease(key: string, record: ArrayBuffer, cas: u32): WasmResult {
    return setSharedData(key, record, cas);
  }

  /**
   * `proxy_on_http_call_response` for the root context: true when `callId` was a JWKS
   * fetch (then waiting streams should be evaluated again).
   */
  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, nowMs: i64): bool {
    const remotes = this.remotes;
    let r: RemoteKeys | null = null;
    for (let i = 0, n = remotes.length; i < n; i++) {
      const candidate = unchecked(remotes[i]);
      if (candidate !== null && candidate.callId == callId) r = candidate;
    }
    if (r === null) return false;
    r.callId = 0;
    const name = r.provider.name;
    let document: ArrayBuffer | null = null;
    if (numHeaders == 0) {
      logWarn("jwt-auth: provider " + name + ": JWKS fetch from " + r.remote.uri + " failed (no response)");
    } else {
      const status = httpCallResponseHeaders.get(":status");
      if (status != "200") {
        logWarn("jwt-auth: provider " + name + ": JWKS fetch from " + r.remote.uri + " answered " + (status !== null ? status : "no status"));
      } else if (bodySize > MAX_JWKS_BYTES) {
        logWarn("jwt-auth: provider " + name + ": JWKS from " + r.remote.uri + " is over 1 MiB");
      } else {
        const body = httpCallResponseBody.get(0, bodySize);
        const parsed: JwksParse | null = body !== null ? parseJwks(changetype<usize>(body), body.byteLength) : null;
        if (parsed !== null && parsed.set !== null) {
          document = body;
          r.set = parsed.set;
          if (parsed.rejected > 0) logWarn("jwt-auth: provider " + name + ": JWKS from " + r.remote.uri + ": " + parsed.error + " (key left out)");
        } else {
          logWarn("jwt-auth: provider " + name + ": JWKS from " + r.remote.uri + ": " + (parsed !== null ? parsed.error : "no body"));
        }
      }
    }
    this.stats.countJwksFetch(r.provider.index, document !== null);
    this.finish(r, nowMs, document);
    return true;
  }

  /** Ends a fetch: stores the keys (when `document` is set) and releases the lease with CAS. */
  private finish(r: RemoteKeys, nowMs: i64, document: ArrayBuffer | null): void {
    let written: u64 = 0;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const read = readState(r.stateKey);
      const state = read.state;
      if (document !== null) {
        const generation = (state.generation > r.generation ? state.generation : r.generation) + 1;
        if (generation != written) {
          setSharedData(r.keysKey, encodeKeysRecord(generation, document));
          written = generation;
        }
        state.generation = generation;
        state.fetchedAt = nowMs;
        state.refreshAt = nowMs + r.remote.cacheDurationMs * 9 / 10;
        state.failures = 0;
      } else {
        state.failures++;
      }
      if (state.leaseOwner == r.lease) state.fetchingUntil = 0; // else another worker took over
      state.attempts++;
      const result = setSharedData(r.stateKey, state.encode(), read.cas);
      if (result == WasmResult.CasMismatch) continue;
      r.attempts = state.attempts;
      break;
    }
    if (document !== null) {
      r.generation = written;
      if (r.loggedUnavailable) logInfo("jwt-auth: provider " + r.provider.name + ": JWKS available again");
      r.loggedUnavailable = false;
    }
  }
}
