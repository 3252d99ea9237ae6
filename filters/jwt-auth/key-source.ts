/**
 * Where the authenticator gets a provider's keys: `local_jwks` directly, `remote_jwks`
 * through the JWKS cache (jwks-cache.ts on the host; a fake in specs).
 */
import { Provider } from "./config";
import { JwkSet } from "./jwks";

/** What a caller lacking keys should do. */
export enum KeyWait {
  /** Keys are there now (they changed): verify again. */
  Ready = 0,
  /** A fetch is in flight: pause the stream and evaluate it again when it ends. */
  Waiting = 1,
  /** No fetch may run now (failed recently, or the unknown-kid refetch ran lately). */
  Unavailable = 2,
}

export abstract class KeySource {
  /** The provider's keys, or null when a remote provider has none yet. */
  abstract keys(provider: Provider): JwkSet | null;

  /** Changes whenever the provider's keys change (verified-token cache entries of other generations are stale). */
  abstract generation(provider: Provider): u64;

  /**
   * The provider has no keys: start or join a fetch (remote providers only). `waitedFor`
   * is the fetch attempt (`pendingAttempt`) a paused request has been waiting for, 0 on
   * its first try: once that attempt is over without keys, the answer is Unavailable
   * (a request waits for one fetch, not for every retry).
   */
  abstract awaitKeys(provider: Provider, nowMs: i64, waitedFor: u32): KeyWait;

  /** The number of the fetch attempt that ends next (what a request now Waiting waits for). */
  abstract pendingAttempt(provider: Provider): u32;

  /** A token names a `kid` the keys lack: pick up newer keys, or refetch (at most once per 10 s). */
  abstract refetchForKid(provider: Provider, nowMs: i64): KeyWait;

  /** A request was let through without keys (`on_jwks_unavailable: "allow"`): log it. */
  unavailableAllowed(provider: Provider): void {}
}

/** Keys of `local_jwks` providers only (a remote provider never gets keys). */
export class LocalKeys extends KeySource {
  keys(provider: Provider): JwkSet | null {
    return provider.localJwks;
  }

  generation(provider: Provider): u64 {
    return 1;
  }

  awaitKeys(provider: Provider, nowMs: i64, waitedFor: u32): KeyWait {
    return KeyWait.Unavailable;
  }

  pendingAttempt(provider: Provider): u32 {
    return 0;
  }

  refetchForKid(provider: Provider, nowMs: i64): KeyWait {
    return KeyWait.Unavailable;
  }
}
