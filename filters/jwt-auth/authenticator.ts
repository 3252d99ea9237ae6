/**
 * Authentication of one request, after Envoy's jwt_authn authenticator
 * (source/extensions/filters/http/jwt_authn/authenticator.cc). `begin` collects the
 * credentials at the token sources of the rule (extractor.ts). A provider, asked for its
 * outcome by the requirement tree, checks every credential at its locations: finds it
 * in the verified-token cache or parses it, checks the issuer and algorithm, verifies
 * the signature with its keys, then checks time, audience and subject. It verifies at
 * most one identity: two different tokens that both verify make it refuse with
 * `jwt_ambiguous` (the same token twice is one identity). The outcome of each provider
 * is computed at most once per evaluation, however many requirement nodes name it.
 *
 * Order of checks: size, syntax, issuer, `algorithms`, keys (remote keys may make the
 * request wait), signature, then the claims, so that claims are only ever read from a
 * token whose signature holds (RFC 7519 §7.2 validates the JWS before the claims).
 *
 * When the tree allows, `checkCredentials` makes sure that every credential was verified
 * by some provider of the rule (asking the providers the tree did not need): one that
 * none verified denies with its reason, unless the rule tolerates failure there (then it
 * is removed, or left with `forward_unverified`). `applyEffects` then writes what
 * upstream gets: each header of `forward_payload_header` and `claim_to_headers` from one
 * credential, that of the first provider in requirement order that satisfied the rule
 * and maps the header; and takes out verified credentials of `forward: false` providers.
 */
import { audienceAllowed, checkTimes, claimHeaderBytes } from "./claims";
import { ClaimToHeader, JwtAuthConfig, MAX_SANITIZED_WRITES, Provider, Rule } from "./config";
import { CredentialList, LocationKind, collectCredentials, removeCredentials, tokenAt } from "./extractor";
import { KeySource, KeyWait } from "./key-source";
import { Jwt, parseJwt } from "./jwt";
import { KeyMatch, verifySignature } from "./signature";
import { AuthRequest, HeaderBytes, FieldName } from "./request";
import { Reason } from "./reasons";
import { Stats } from "./stats";
import { TokenCache, tokenHash } from "./token-cache";
import { algIn } from "./algorithms";
import { sameBytes } from "./bytes";

/** What a provider made of the current request's credentials. */
export class ProviderOutcome {
  /** Evaluation this outcome belongs to (outcomes are reused across requests). */
  stamp: u32 = 0;
  reason: Reason = Reason.JwtMissing;
  /** The one token it verified, when `reason` is Ok. */
  jwt: Jwt | null = null;
}

/** The outcome of a requirement: a reason, and the provider it is attributed to (-1: none). */
export class Verdict {
  reason: Reason = Reason.Ok;
  provider: i32 = -1;
}

// @ts-ignore: decorator
@lazy const NO_VALUES = new Array<ArrayBuffer>(0);

export class Authenticator {
  private readonly outcomes: StaticArray<ProviderOutcome>;
  /** Per provider, the fetch attempt the request waits for (0: none yet): see KeySource.awaitKeys. */
  private readonly waits: StaticArray<u32>;
  /** Providers that satisfied the rule, by index, in requirement order (`satisfiedBy`). */
  private readonly satisfied: StaticArray<i32>;
  private satisfiedCount: i32 = 0;
  /**
   * Per sanitized header (`FieldName.sanitizedIndex`): the evaluation that gave it to a
   * provider, and that provider's index * 2 + 1 once a value was written (`mayWrite`).
   */
  private readonly headerStamps: StaticArray<u32>;
  private readonly headerOwners: StaticArray<i32>;
  /** The credentials of the current request (`begin`). */
  readonly credentials: CredentialList = new CredentialList();
  private readonly value: HeaderBytes = new HeaderBytes();
  private readonly token: HeaderBytes = new HeaderBytes();
  /** The token `authenticate` verified last. */
  private verified: Jwt | null = null;
  private stamp: u32 = 0;
  private request: AuthRequest | null = null;
  private nowMs: i64 = 0;
  private nowSeconds: f64 = 0;

  constructor(
    readonly config: JwtAuthConfig,
    readonly keys: KeySource,
    readonly cache: TokenCache,
    readonly stats: Stats,
  ) {
    const n = config.providers.length;
    const headers = config.sanitizedHeaders.length;
    this.outcomes = new StaticArray<ProviderOutcome>(n);
    this.waits = new StaticArray<u32>(n);
    this.satisfied = new StaticArray<i32>(n);
    this.headerStamps = new StaticArray<u32>(headers);
    this.headerOwners = new StaticArray<i32>(headers);
    for (let i = 0; i < n; i++) unchecked((this.outcomes[i] = new ProviderOutcome()));
  }

  /**
   * Starts an evaluation of `request` under `rule` at `nowMs` (ms since the epoch):
   * forgets earlier outcomes and collects the credentials at the rule's token sources.
   * `waits` is what `waitsToKeep` gave when the request was paused (null at first).
   */
  begin(request: AuthRequest, rule: Rule, nowMs: i64, waits: StaticArray<u32> | null = null): void {
    this.stamp++;
    const mine = this.waits;
    if (waits !== null && waits.length == mine.length) memory.copy(changetype<usize>(mine), changetype<usize>(waits), <usize>mine.length << 2);
    else if (mine.length > 0) memory.fill(changetype<usize>(mine), 0, <usize>mine.length << 2);
    this.request = request;
    this.nowMs = nowMs;
    // NumericDate comparisons in whole seconds, as jose (and jwt_verify_lib) do.
    this.nowSeconds = <f64>(nowMs / 1000);
    this.satisfiedCount = 0;
    this.credentials.clear();
    collectCredentials(rule.sources, request, this.credentials, this.value);
  }

  /** Whether the request carries more credentials than are checked (it is refused unchecked). */
  get tooMany(): bool {
    return this.credentials.overflow;
  }

  /** A copy of the fetch attempts a paused request waits for, to give back to `begin`. */
  waitsToKeep(): StaticArray<u32> {
    const n = this.waits.length;
    const out = new StaticArray<u32>(n);
    memory.copy(changetype<usize>(out), changetype<usize>(this.waits), <usize>n << 2);
    return out;
  }

  /** The outcome of provider `p` for the current evaluation (computed on first use). */
  outcome(p: Provider): ProviderOutcome {
    const o = unchecked(this.outcomes[p.index]);
    if (o.stamp == this.stamp) return o;
    o.stamp = this.stamp;
    o.jwt = null;
    const list = this.credentials;
    const token = this.token;
    let failure = Reason.Ok;
    let pending = false;
    let unavailable = false;
    let ambiguous = false;
    let verifiedMask: u32 = 0;
    const locations = p.locations;
    for (let l = 0, m = locations.length; l < m; l++) {
      const location = unchecked(locations[l]);
      for (let i = 0, n = list.length; i < n; i++) {
        const c = list.at(i);
        if (c.where!.source !== location.source || !tokenAt(location, c, token)) continue;
        c.parsed = true;
        const r = this.authenticate(p, token);
        if (r == Reason.Ok) {
          const jwt = this.verified!;
          const first = o.jwt;
          if (first === null) o.jwt = jwt;
          else if (!sameToken(first, jwt)) ambiguous = true;
          verifiedMask |= <u32>1 << <u32>i;
        } else if (r == Reason.Pending) {
          pending = c.pending = true;
        } else if (r == Reason.JwksUnavailableAllowed) {
          unavailable = c.unavailable = true;
        } else {
          c.refuse(r, p.index);
          if (failure == Reason.Ok) failure = r;
        }
      }
    }
    for (let i = 0; verifiedMask != 0; i++, verifiedMask >>= 1) {
      if ((verifiedMask & 1) == 0) continue;
      const c = list.at(i);
      if (ambiguous) c.refuse(Reason.JwtAmbiguous, p.index);
      else {
        c.verified = true;
        if (!p.forward) c.remove = true;
      }
    }
    if (ambiguous) o.jwt = null;
    o.reason = ambiguous ? Reason.JwtAmbiguous
      : pending ? Reason.Pending
      : o.jwt !== null ? Reason.Ok
      : unavailable ? Reason.JwksUnavailableAllowed
      : failure != Reason.Ok ? failure
      : Reason.JwtMissing;
    return o;
  }

  /** Records that provider `p` satisfied its requirement node (in the tree's order). */
  satisfiedBy(p: Provider): void {
    const n = this.satisfiedCount;
    for (let i = 0; i < n; i++) if (unchecked(this.satisfied[i]) == p.index) return;
    unchecked((this.satisfied[n] = p.index));
    this.satisfiedCount = n + 1;
  }

  /** A mark to give back to `unsatisfy` when a subtree that was tried does not count (requires_any). */
  get satisfiedMark(): i32 {
    return this.satisfiedCount;
  }

  unsatisfy(mark: i32): void {
    this.satisfiedCount = mark;
  }

  /**
   * After the rule's requirement allowed (`out` Ok), or refused with a 403: every
   * credential must have been verified by some provider of the rule. Asks the providers
   * reading an unverified one that were not asked yet; if none verifies it, `out`
   * becomes its refusal (the most telling one; `jwt_bad_format` when no location could
   * even parse it), unless the rule tolerates failure where it is, or keys were
   * unavailable and `on_jwks_unavailable` is "allow": then it is removed (kept with
   * `forward_unverified`). A credential whose provider waits for keys makes an allowed
   * `out` Pending unless another one denies.
   */
  checkCredentials(out: Verdict): void {
    const list = this.credentials;
    const providers = this.config.providers;
    let pending = -1;
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list.at(i);
      const readers = c.where!.readers;
      for (let r = 0, m = readers.length; r < m && !c.verified; r++) this.outcome(unchecked(providers[unchecked(readers[r]).provider]));
      if (c.verified) continue;
      if (c.pending) {
        if (pending < 0) pending = unchecked(readers[0]).provider;
        continue;
      }
      if (c.unavailable || c.where!.tolerated) {
        c.remove = !this.config.forwardUnverified;
        continue;
      }
      out.reason = c.parsed ? c.failure : Reason.JwtBadFormat;
      out.provider = c.parsed ? c.failureProvider : unchecked(readers[0]).provider;
      return;
    }
    if (pending >= 0 && out.reason == Reason.Ok) {
      out.reason = Reason.Pending;
      out.provider = pending;
    }
  }

  /** Checks one token of provider `p`; a verified one is left in `verified`. */
  private authenticate(p: Provider, token: HeaderBytes): Reason {
    const len = token.end - token.start;
    if (len > this.config.maxTokenBytes) return Reason.JwtTooLarge;
    const ptr = token.bytes.dataStart + <usize>token.start;
    const hash = tokenHash(ptr, len, <u64>p.index);
    let jwt = this.cache.lookup(hash, ptr, len, p.index, this.keys.generation(p), this.nowSeconds);
    this.stats.countCache(p.index, jwt !== null);
    if (jwt === null) {
      // A token another provider verified (envoy/mesh.yaml: user and service tokens, both
      // in `authorization`) is parsed already: where its issuer or algorithm is not this
      // provider's, `verify` would parse it again only to refuse it for that.
      const known = this.parsedByOther(p, ptr, len);
      if (known !== null) {
        const refused = refusedByBytes(p, known);
        if (refused != Reason.Ok) return refused;
      }
      const fresh = new Jwt();
      const reason = this.verify(p, token, fresh);
      if (reason != Reason.Ok) return reason;
      const dropAt = fresh.hasExp ? fresh.exp + p.clockSkewSeconds : Infinity;
      this.cache.insert(hash, fresh, p.index, this.keys.generation(p), dropAt, this.nowSeconds);
      jwt = fresh;
    }
    const reason = this.checkClaims(p, jwt);
    if (reason == Reason.Ok) this.verified = jwt;
    return reason;
  }

  /**
   * Token `ptr[0..len)` as another provider's cache holds it, or null. The same bytes
   * parse the same for `p` (the parse limits are the filter's), whatever keys verified it.
   */
  private parsedByOther(p: Provider, ptr: usize, len: i32): Jwt | null {
    for (let q = 0, n = this.config.providers.length; q < n; q++) {
      if (q == p.index) continue;
      const cached = this.cache.peek(tokenHash(ptr, len, <u64>q), ptr, len, q);
      if (cached !== null) return cached;
    }
    return null;
  }

  /** Parse, issuer, algorithm, keys, signature. */
  private verify(p: Provider, token: HeaderBytes, jwt: Jwt): Reason {
    const parsed = parseJwt(token.bytes, token.start, token.end, this.config.maxTokenBytes, jwt);
    if (parsed != Reason.Ok) return parsed;
    const refused = refusedByBytes(p, jwt);
    if (refused != Reason.Ok) return refused;
    let set = this.keys.keys(p);
    if (set === null) {
      const waits = this.waits;
      const wait = this.keys.awaitKeys(p, this.nowMs, unchecked(waits[p.index]));
      if (wait == KeyWait.Waiting) {
        if (unchecked(waits[p.index]) == 0) unchecked((waits[p.index] = this.keys.pendingAttempt(p)));
        return Reason.Pending;
      }
      set = this.keys.keys(p);
      if (set === null) return this.unavailable(p);
    }
    let match = verifySignature(set, jwt);
    if (match == KeyMatch.KidUnknown && p.remote !== null) {
      const wait = this.keys.refetchForKid(p, this.nowMs);
      if (wait == KeyWait.Waiting) return Reason.Pending;
      const newer = this.keys.keys(p);
      if (wait == KeyWait.Ready && newer !== null) match = verifySignature(newer, jwt);
    }
    if (match == KeyMatch.Valid) return Reason.Ok;
    return match == KeyMatch.Invalid ? Reason.JwtVerificationFailed : Reason.JwksKidAlgMismatch;
  }

  private unavailable(p: Provider): Reason {
    if (!this.config.allowWhenJwksUnavailable) return Reason.JwksUnavailable;
    this.stats.countJwksUnavailableAllowed(p.index);
    this.keys.unavailableAllowed(p);
    return Reason.JwksUnavailableAllowed;
  }

  /**
   * Time, audience and subject: run on every request, cached tokens included. Audience
   * and subject depend on the token and its provider only, so a token is checked for
   * them once (`Jwt.providerChecks`).
   */
  private checkClaims(p: Provider, jwt: Jwt): Reason {
    const times = checkTimes(jwt, this.nowSeconds, p.clockSkewSeconds, p.requireExpiration, p.maxLifetimeSeconds);
    if (times != Reason.Ok) return times;
    let fixed = jwt.providerChecks;
    if (fixed < 0) jwt.providerChecks = fixed = <i32>providerChecks(p, jwt);
    return <Reason>fixed;
  }

  /**
   * After the request is allowed: writes the headers of the providers that satisfied
   * the rule, each header once, from the first of them (in requirement order) that maps
   * it: a header it maps is its own even when its token lacks the claim (then nothing is
   * written), so that no header mixes two credentials. Then counts every provider that
   * verified a credential, and takes out the credentials marked for removal.
   * `written` has a bit per sanitized header (`FieldName.sanitizedIndex`) already
   * cleared of incoming copies: a write of such a header adds, others replace what the
   * request had. Returns `written` with the headers written here.
   */
  applyEffects(written: u64 = 0): u64 {
    const request = this.request!;
    const providers = this.config.providers;
    for (let k = 0, n = this.satisfiedCount; k < n; k++) {
      const i = unchecked(this.satisfied[k]);
      const p = unchecked(providers[i]);
      const jwt = unchecked(this.outcomes[i]).jwt!;
      const payloadHeader = p.forwardPayloadHeader;
      if (payloadHeader !== null && this.mayWrite(payloadHeader, i, true)) written = writeHeader(request, payloadHeader, jwt.payloadBase64url(), written);
      const claims = p.claimToHeaders;
      if (claims.length > 0) {
        const values = claimHeaderValues(jwt, claims);
        for (let c = 0, m = claims.length; c < m; c++) {
          const value = unchecked(values[c]);
          const header = unchecked(claims[c]).header;
          if (this.mayWrite(header, i, value !== null)) written = writeHeader(request, header, value!, written);
        }
      }
    }
    for (let i = 0, n = providers.length; i < n; i++) {
      const o = unchecked(this.outcomes[i]);
      if (o.stamp == this.stamp && o.reason == Reason.Ok) this.stats.countProviderAllowed(i);
    }
    this.removeMarked(request);
    return written;
  }

  /**
   * Whether provider `index` writes `name` now, a value in hand or not (`present`): the
   * first provider to ask owns the header for this evaluation, and writes it once.
   */
  private mayWrite(name: FieldName, index: i32, present: bool): bool {
    const h = name.sanitizedIndex;
    if (unchecked(this.headerStamps[h]) != this.stamp) {
      unchecked((this.headerStamps[h] = this.stamp));
      unchecked((this.headerOwners[h] = index << 1));
    } else if (unchecked(this.headerOwners[h]) != index << 1) return false;
    if (!present) return false;
    unchecked((this.headerOwners[h] = (index << 1) | 1));
    return true;
  }

  /** Takes out the credentials marked `remove`, one source at a time (sources of one kind together, cookies last). */
  private removeMarked(request: AuthRequest): void {
    const list = this.credentials;
    for (let i = 0, n = list.length; i < n; ) {
      const where = list.at(i).where!;
      let mask: u32 = 0;
      let all = true;
      let j = i;
      for (; j < n && list.at(j).where === where; j++) {
        const c = list.at(j);
        if (c.remove) mask |= <u32>1 << <u32>c.occurrence;
        else all = false;
      }
      if (mask != 0) {
        let kept = NO_VALUES;
        if (!all && where.source.kind == LocationKind.Header) {
          kept = new Array<ArrayBuffer>();
          for (let k = i; k < j; k++) {
            const c = list.at(k);
            if (!c.remove) kept.push(c.bytes.slice(c.start, c.end).buffer);
          }
        }
        removeCredentials(request, where, mask, all, kept);
      }
      i = j;
    }
  }
}

/** Why `p` refuses parsed token `jwt` for what its bytes say (issuer, algorithm); Ok when its keys decide. */
function refusedByBytes(p: Provider, jwt: Jwt): Reason {
  if (p.issuer.length > 0 && (jwt.iss === null || !jwt.iss!.equalsString(p.issuer))) return Reason.JwtUnknownIssuer;
  if (!algIn(p.algorithms, jwt.alg)) return Reason.JwksKidAlgMismatch;
  return Reason.Ok;
}

/** Whether `a` and `b` are the same token (one cached parse, or equal bytes). */
function sameToken(a: Jwt, b: Jwt): bool {
  return a === b || (a.length == b.length && sameBytes(a.tokenPtr, b.tokenPtr, a.length));
}

/** Audience and subject (the checks of `checkClaims` that do not change with time). */
function providerChecks(p: Provider, jwt: Jwt): Reason {
  if (p.audiences.length > 0 && !audienceAllowed(jwt.aud, p.audiences)) return Reason.JwtAudienceNotAllowed;
  const subjects = p.subjects;
  if (subjects !== null && !subjects.matches(jwt.sub)) return Reason.JwtSubjectNotAllowed;
  return Reason.Ok;
}

/**
 * Writes `name: value` for upstream: replacing incoming copies the first time a
 * sanitized header is written (its bit not yet in `written`), adding otherwise.
 */
function writeHeader(request: AuthRequest, name: FieldName, value: ArrayBuffer, written: u64): u64 {
  const index = name.sanitizedIndex;
  if (index < 0 || index >= MAX_SANITIZED_WRITES) {
    request.addHeaderBytes(name, value);
    return written;
  }
  const bit = <u64>1 << <u64>index;
  if (written & bit) request.addHeaderBytes(name, value);
  else request.replaceHeaderBytes(name, value);
  return written | bit;
}

/**
 * The `claim_to_headers` values of `jwt` as header bytes (null: nothing to write), made
 * on first use and kept with the token, so that a cached token's headers cost no
 * allocation. A `Jwt` belongs to one provider (the cache keys by provider), so `claims`
 * is always that provider's list.
 */
function claimHeaderValues(jwt: Jwt, claims: ClaimToHeader[]): StaticArray<ArrayBuffer | null> {
  let values = jwt.claimHeaders;
  if (values === null) {
    values = new StaticArray<ArrayBuffer | null>(claims.length);
    for (let c = 0, k = claims.length; c < k; c++) {
      const v = unchecked(claims[c]).claim.lookup(jwt.payload);
      unchecked((values[c] = v !== null ? claimHeaderBytes(v) : null));
    }
    jwt.claimHeaders = values;
  }
  return values;
}
