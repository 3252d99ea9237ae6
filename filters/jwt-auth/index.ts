/**
 * jwt-auth: JWT authentication for Envoy as a proxy-wasm filter (filters.md "jwt-auth";
 * shaped after envoy.filters.http.jwt_authn). This file wires the module; the parts:
 *
 *   index.ts           the ABI callbacks exported, wiring     plugin.ts    root and stream contexts
 *   config.ts          configuration → immutable objects     reasons.ts   the reason table
 *   extractor.ts       where tokens are, and their removal    jwt.ts       token parsing
 *   jwks.ts            JWKS → key objects                     signature.ts key selection, verification
 *   claims.ts          time, audience, subject, claim checks  authenticator.ts  credentials, providers
 *   requirements.ts    the requirement tree                   token-cache.ts    verified tokens
 *   jwks-cache.ts      remote JWKS shared across workers      jwks-state.ts     its shared records
 *   response.ts        401/403 responses                      stats.ts     counters
 *   request.ts, host-request.ts   the request as the logic sees it (and over the SDK)
 *   bytes.ts           token hashing and comparison
 *
 * Request path (`proxy_on_request_headers`): let CORS preflights through when asked;
 * take the first rule whose `match` holds; collect every credential at its providers'
 * token locations; evaluate its requirement, then check that each credential was
 * verified by some provider of the rule; then continue (after writing claim headers and
 * removing credentials), answer 401/403, or — remote keys not there yet — pause
 * the stream (StopAllIterationAndWatermark) until the root context has keys or knows it
 * will not get them, and resume or answer it from there. Before the request goes on (or
 * is answered), incoming copies of the headers jwt-auth writes are gone: those this
 * request writes are replaced by the write, the others removed where present
 * (`JwtAuthStream.sanitize`; first of all when a rule's `match` reads one of them).
 *
 * Costs (a cached token, `npm run bench jwt-auth`): one read of the request header map
 * (`:path`, `:method` and every token field), a lookup of each written header the
 * request does not write, one clock read, the header writes and the token's removal,
 * three counters; it allocates the stream's context and the `:path` / `:method` strings
 * that matching reads, no more.
 */
// The ABI callbacks jwt-auth uses (it reads request headers and HTTP-call responses only;
// Envoy skips callbacks a module does not export, which saves a VM entry per body chunk).
export * from "../../assembly/proxy-wasm/exports-core";
export { proxy_on_tick, proxy_on_request_headers, proxy_on_http_call_response } from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { JwtAuthRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new JwtAuthRoot(contextId));
