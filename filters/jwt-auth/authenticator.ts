/**
 * Authentication of one request by one provider, after Envoy's jwt_authn authenticator
 * (source/extensions/filters/http/jwt_authn/authenticator.cc): extract the provider's
 * tokens, and for each (every one must pass, as in Envoy, so that a good token cannot
 * smuggle a bad one upstream) find it in the verified-token cache or parse, check the
 * issuer and algorithm, verify the signature with the provider's keys, then check
 * time, audience and subject. The outcome of each provider is computed at most once per
 * evaluation, however many requirement nodes name it.
 *
 * Order of checks: size, syntax, issuer, `algorithms`, keys (remote keys may make the
 * request wait), signature, then the claims, so that claims are only ever read from a
 * token whose signature holds (RFC 7519 §7.2 validates the JWS before the claims).
 *
 * After an allowing decision, `applyEffects` writes what upstream gets from each
 * provider that verified its tokens: `forward_payload_header`, `claim_to_headers`, and
 * (`forward: false`) the removal of the token where it was found.
 */
import { audienceAllowed, checkTimes, claimHeaderBytes } from "./claims";
import { ClaimToHeader, JwtAuthConfig, MAX_SANITIZED_WRITES, Provider } from "./config";
import { FoundToken, TokenList, extractTokens, removeToken } from "./extractor";
import { KeySource, KeyWait } from "./key-source";
import { Jwt, parseJwt } from "./jwt";
import { KeyMatch, verifySignature } from "./signature";
import { AuthRequest, HeaderName } from "./request";
import { Reason } from "./reasons";
import { Stats } from "./stats";
import { TokenCache, tokenHash } from "./token-cache";
import { algIn } from "./algorithms";

/** What a provider made of the current request's tokens. */
export class ProviderOutcome {
  /** Evaluation this outcome belongs to (outcomes are reused across requests). */
  stamp: u32 = 0;
  reason: Reason = Reason.JwtMissing;
  readonly tokens: TokenList = new TokenList();
  /** The verified tokens, when `reason` is Ok (one per token). */
  readonly jwts: Jwt[] = [];
}

export class Authenticator {
  private readonly outcomes: StaticArray<ProviderOutcome>;
  /** Per provider, the fetch attempt the request waits for (0: none yet): see KeySource.awaitKeys. */
  private readonly waits: StaticArray<u32>;
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
    this.outcomes = new StaticArray<ProviderOutcome>(n);
    this.waits = new StaticArray<u32>(n);
    for (let i = 0; i < n; i++) unchecked((this.outcomes[i] = new ProviderOutcome()));
  }

  /**
   * Starts an evaluation of `request` at `nowMs` (ms since the epoch): forgets earlier
   * outcomes. `waits` is what `waitsToKeep` gave when the request was paused (null at first).
   */
  begin(request: AuthRequest, nowMs: i64, waits: StaticArray<u32> | null = null): void {
    this.stamp++;
    const mine = this.waits;
    if (waits !== null && waits.length == mine.length) memory.copy(changetype<usize>(mine), changetype<usize>(waits), <usize>mine.length << 2);
    else if (mine.length > 0) memory.fill(changetype<usize>(mine), 0, <usize>mine.length << 2);
    this.request = request;
    this.nowMs = nowMs;
    // NumericDate comparisons in whole seconds, as jose (and jwt_verify_lib) do.
    this.nowSeconds = <f64>(nowMs / 1000);
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
    o.tokens.clear();
    o.jwts.length = 0;
    extractTokens(p.locations, this.request!, o.tokens);
    if (o.tokens.length == 0) {
      o.reason = Reason.JwtMissing;
      return o;
    }
    let reason = Reason.Ok;
    for (let i = 0, n = o.tokens.length; i < n && reason == Reason.Ok; i++) {
      reason = this.authenticate(p, o.tokens.at(i), o);
    }
    o.reason = reason;
    return o;
  }

  /** Checks one token of provider `p`; verified tokens go to `o.jwts`. */
  private authenticate(p: Provider, token: FoundToken, o: ProviderOutcome): Reason {
    const len = token.end - token.start;
    if (len > this.config.maxTokenBytes) return Reason.JwtTooLarge;
    const ptr = token.bytes.dataStart + <usize>token.start;
    const hash = tokenHash(ptr, len, <u64>p.index);
    let jwt = this.cache.lookup(hash, ptr, len, p.index, this.keys.generation(p), this.nowSeconds);
    this.stats.countCache(p.index, jwt !== null);
    if (jwt === null) {
      const fresh = new Jwt();
      const reason = this.verify(p, token, fresh);
      if (reason != Reason.Ok) return reason;
      const dropAt = fresh.hasExp ? fresh.exp + p.clockSkewSeconds : Infinity;
      this.cache.insert(hash, fresh, p.index, this.keys.generation(p), dropAt, this.nowSeconds);
      jwt = fresh;
    }
    const reason = this.checkClaims(p, jwt);
    if (reason == Reason.Ok) o.jwts.push(jwt);
    return reason;
  }

  /** Parse, issuer, algorithm, keys, signature. */
  private verify(p: Provider, token: FoundToken, jwt: Jwt): Reason {
    const parsed = parseJwt(token.bytes, token.start, token.end, this.config.maxTokenBytes, jwt);
    if (parsed != Reason.Ok) return parsed;
    if (p.issuer.length > 0 && (jwt.iss === null || !jwt.iss!.equalsString(p.issuer))) return Reason.JwtUnknownIssuer;
    if (!algIn(p.algorithms, jwt.alg)) return Reason.JwksKidAlgMismatch;
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
   * After the request is allowed: for every provider whose tokens verified in this
   * evaluation, writes its headers, removes its tokens (`forward: false`) and counts it.
   * `written` has a bit per sanitized header (`HeaderName.sanitizedIndex`) already
   * cleared of incoming copies: the first write of such a header replaces what the
   * request had, later ones add. Returns `written` with the headers written here.
   */
  applyEffects(written: u64 = 0): u64 {
    const request = this.request!;
    const providers = this.config.providers;
    for (let i = 0, n = providers.length; i < n; i++) {
      const o = unchecked(this.outcomes[i]);
      if (o.stamp != this.stamp || o.reason != Reason.Ok) continue;
      const p = unchecked(providers[i]);
      for (let t = 0, m = o.jwts.length; t < m; t++) {
        const jwt = unchecked(o.jwts[t]);
        const payloadHeader = p.forwardPayloadHeader;
        if (payloadHeader !== null) written = writeHeader(request, payloadHeader, jwt.payloadBase64url(), written);
        const claims = p.claimToHeaders;
        if (claims.length > 0) {
          const values = claimHeaderValues(jwt, claims);
          for (let c = 0, k = claims.length; c < k; c++) {
            const value = unchecked(values[c]);
            if (value !== null) written = writeHeader(request, unchecked(claims[c]).header, value, written);
          }
        }
        if (!p.forward) removeToken(request, o.tokens.at(t));
      }
      this.stats.countProviderAllowed(i);
    }
    return written;
  }
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
function writeHeader(request: AuthRequest, name: HeaderName, value: ArrayBuffer, written: u64): u64 {
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
