/**
 * Remote JWKS, shared by all worker VMs (after Envoy's jwt_authn JwksCache and
 * JwksAsyncFetcher, jwks_cache.cc / jwks_async_fetcher.cc, with the keys moved to
 * proxy-wasm shared data so that N workers fetch once, not N times).
 *
 * Each worker keeps the parsed keys of each remote provider and the generation they
 * came from; it picks up newer ones when the shared state record's generation moves
 * (read every tick, and whenever a request lacks keys or a `kid`). Fetches go out with
 * `proxy_http_call` from the root context, by whichever worker first takes the lease
 * with compare-and-swap (assembly/shared `update`; jwks-state.ts has the records and
 * the rules). A fetch fails
 * on zero headers (reset), on any status but 200 — Envoy's async client answers a
 * timed-out call with its router's local reply, `504` — on a body over 1 MiB, and on a
 * document without usable keys; keys held so far stay in use.
 *
 * Shared data keys: `jwt-auth/<provider>/<uri>/state` and `.../keys` (per vm_id).
 */
import {
  HeaderPair, RootContext, SharedDataReader, getSharedDataBytes, httpCallResponseBody, httpCallResponseHeaders, logInfo, logWarn,
} from "../../assembly/proxy-wasm";
import { RecordUpdate, UpdateResult, overwrite, update } from "../../assembly/shared";
import { JwtAuthConfig, Provider, RemoteJwks } from "./config";
import { JwkSet, JwksParse, parseJwks } from "./jwks";
import {
  JWKS_KEYS, JWKS_STATE, JwksState, LEASE_GRACE_MS, MAX_JWKS_BYTES, encodeKeysRecord, keysRecordDocument,
  keysRecordDocumentLength, keysRecordGeneration,
} from "./jwks-state";
import { KeySource, KeyWait } from "./key-source";
import { Stats } from "./stats";


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
  /** Shared-data keys (UTF-8) of the state and keys records. */
  readonly stateKey: ArrayBuffer;
  readonly keysKey: ArrayBuffer;
  readonly headers: HeaderPair[];

  constructor(readonly provider: Provider, readonly remote: RemoteJwks) {
    const base = "jwt-auth/" + provider.name + "/" + remote.uri + "/";
    this.stateKey = String.UTF8.encode(base + "state");
    this.keysKey = String.UTF8.encode(base + "keys");
    this.headers = [
      new HeaderPair(":method", "GET"),
      new HeaderPair(":path", remote.path),
      new HeaderPair(":authority", remote.authority),
      new HeaderPair("accept", "application/jwk-set+json, application/json"),
    ];
  }
}

let leases: u32 = 0;

// `sync`'s read of the state, apart from JWKS_STATE.reader: TakeLease's `apply` calls `sync`
// while the record it was given lives in that reader's buffer.
const stateReader = new SharedDataReader(1, JWKS_STATE.maxSize);

/** A lease number unlikely to be another worker's: a random draw (WASI random_get) plus a count. */
function nextLease(): u32 {
  if (leases == 0) leases = <u32>(Math.random() * 4294967295.0) | 1;
  leases += 2;
  return leases;
}

/**
 * `startFetch`'s change to the state record: takes the fetch lease when a fetch may
 * start, else writes nothing and says why in `wait`.
 */
class TakeLease extends RecordUpdate {
  cache: JwksCache | null = null;
  remote: RemoteKeys | null = null;
  nowMs: i64 = 0;
  forKid: bool = false;
  /** After `apply`: the lease was taken (written if the update is), or why not. */
  taken: bool = false;
  wait: KeyWait = KeyWait.Waiting;
  /** After `apply`: the state written. */
  state: JwksState = new JwksState();

  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    const r = changetype<RemoteKeys>(this.remote);
    const now = this.nowMs;
    const state = JwksState.decode(record);
    this.taken = false;
    if (state.fetching(now)) {
      this.wait = KeyWait.Waiting;
      return null;
    }
    // A fetch finished since this worker last looked: take its keys rather than fetch again.
    if (state.generation != r.generation && changetype<JwksCache>(this.cache).sync(r).generation == r.generation) {
      this.wait = KeyWait.Ready;
      return null;
    }
    if (!state.mayFetch(now, this.forKid, r.set !== null)) {
      this.wait = KeyWait.Unavailable;
      return null;
    }
    state.fetchingUntil = now + <i64>r.remote.timeoutMs + LEASE_GRACE_MS;
    state.leaseOwner = r.lease = nextLease();
    state.lastAttemptAt = now;
    if (this.forKid) state.lastKidRefetchAt = now;
    this.taken = true;
    this.state = state;
    return state.encode();
  }
}

/**
 * `finish`'s change to the state record: counts the attempt, releases the lease, and on
 * success stores the keys under the next generation (written once per generation).
 */
class EndFetch extends RecordUpdate {
  remote: RemoteKeys | null = null;
  nowMs: i64 = 0;
  document: ArrayBuffer | null = null;
  /** The generation whose keys record this fetch wrote (0: none yet). */
  written: u64 = 0;
  /** After `apply`: the attempts the state written counts. */
  attempts: u32 = 0;

  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    const r = changetype<RemoteKeys>(this.remote);
    const state = JwksState.decode(record);
    const document = this.document;
    if (document !== null) {
      const generation = (state.generation > r.generation ? state.generation : r.generation) + 1;
      if (generation != this.written) {
        overwrite(r.keysKey, JWKS_KEYS, encodeKeysRecord(generation, document));
        this.written = generation;
      }
      state.generation = generation;
      state.fetchedAt = this.nowMs;
      state.refreshAt = this.nowMs + r.remote.cacheDurationMs * 9 / 10;
      state.failures = 0;
    } else {
      state.failures++;
    }
    if (state.leaseOwner == r.lease) state.fetchingUntil = 0; // else another worker took over
    state.attempts++;
    this.attempts = state.attempts;
    return state.encode();
  }
}

export class JwksCache extends KeySource {
  private readonly remotes: StaticArray<RemoteKeys | null>;
  private readonly takeLease: TakeLease = new TakeLease();
  private readonly endFetch: EndFetch = new EndFetch();

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
   * the attempts finished. Returns the state read (an empty one when the key holds no
   * state record of this layout). Reads only (TakeLease calls it between its read and
   * write).
   */
  sync(r: RemoteKeys): JwksState {
    stateReader.read(r.stateKey);
    const shared = JWKS_STATE.recordOf(stateReader.value);
    if (shared === null) return new JwksState();
    const state = JwksState.decode(shared);
    r.attempts = state.attempts;
    if (state.generation == 0 || state.generation == r.generation) return state;
    // Once per key generation, of any size: a buffer of its own.
    const record = getSharedDataBytes(r.keysKey).value;
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
    const take = this.takeLease;
    take.cache = this;
    take.remote = r;
    take.nowMs = nowMs;
    take.forKid = forKid;
    const result = update(r.stateKey, JWKS_STATE, take);
    take.cache = null;
    take.remote = null;
    // Gave up: other workers keep writing the state; the next tick or request looks again.
    if (result == UpdateResult.GaveUp) return KeyWait.Waiting;
    if (result == UpdateResult.HostError) return KeyWait.Unavailable;
    if (!take.taken) return take.wait;
    const call = this.root.httpCall(r.remote.cluster, r.headers, null, null, r.remote.timeoutMs);
    if (!call.ok) {
      logWarn("jwt-auth: provider " + r.provider.name + ": cannot fetch JWKS from cluster \"" + r.remote.cluster + "\" (" + call.status.toString() + ")");
      this.stats.countJwksFetch(r.provider.index, false);
      this.finish(r, nowMs, null);
      return KeyWait.Unavailable;
    }
    r.callId = call.callId;
    r.callDeadline = take.state.fetchingUntil;
    return KeyWait.Waiting;
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
      // Once per JWKS fetch, not per request: the string slow path is smaller here.
      const status = httpCallResponseHeaders.getNamed(":status");
      if (status != "200") {
        logWarn("jwt-auth: provider " + name + ": JWKS fetch from " + r.remote.uri + " answered " + (status !== null ? status : "no status"));
      } else if (bodySize > <usize>MAX_JWKS_BYTES) {
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

  /**
   * Ends a fetch: stores the keys (when `document` is set) and releases the lease with
   * CAS. When the update gives up, the lease runs out by itself (LEASE_GRACE_MS).
   */
  private finish(r: RemoteKeys, nowMs: i64, document: ArrayBuffer | null): void {
    const end = this.endFetch;
    end.remote = r;
    end.nowMs = nowMs;
    end.document = document;
    end.written = 0;
    end.attempts = r.attempts;
    if (update(r.stateKey, JWKS_STATE, end) != UpdateResult.GaveUp) r.attempts = end.attempts;
    end.remote = null;
    end.document = null;
    if (document !== null) {
      r.generation = end.written;
      if (r.loggedUnavailable) logInfo("jwt-auth: provider " + r.provider.name + ": JWKS available again");
      r.loggedUnavailable = false;
    }
  }
}
