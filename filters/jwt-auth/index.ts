/**
 * jwt-auth: JWT authentication for Envoy as a proxy-wasm filter (filters.md "jwt-auth";
 * shaped after envoy.filters.http.jwt_authn). This file wires the module; the parts:
 *
 *   exports.ts         the ABI callbacks exported             plugin.ts    root and stream contexts
 *   config.ts          configuration → immutable objects     reasons.ts   the reason table
 *   extractor.ts       where tokens are, and their removal    jwt.ts       token parsing
 *   jwks.ts            JWKS → key objects                     signature.ts key selection, verification
 *   claims.ts          time, audience, subject, claim checks  authenticator.ts  one provider's tokens
 *   requirements.ts    the requirement tree                   token-cache.ts    verified tokens
 *   jwks-cache.ts      remote JWKS shared across workers      jwks-state.ts     its shared records
 *   response.ts        401/403 responses                      stats.ts, metrics.ts  counters
 *   request.ts, host-request.ts   the request as the logic sees it (and over the SDK)
 *
 * Request path (`proxy_on_request_headers`): remove incoming copies of the headers
 * jwt-auth writes; let CORS preflights through when asked; take the first rule whose
 * `match` holds; evaluate its requirement; then continue (after writing claim headers),
 * answer 401/403, or — remote keys not there yet — pause the stream
 * (StopAllIterationAndWatermark) until the root context has keys or knows it will not
 * get them, and resume or answer it from there.
 */
export * from "./exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { JwtAuthRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new JwtAuthRoot(contextId));
