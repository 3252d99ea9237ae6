// The host micro-benchmarks (hostcall round trips, per-stream cost through one filter).
export { suite } from '../host/bench.ts';
