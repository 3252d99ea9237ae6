// Test-only module: the crypto of assembly/crypto/ exported with raw pointers, so that
// vitest can run Wycheproof vectors, the node:crypto differential test and the bench.
// Built by `npm run build -- --tests` into build/test/crypto.wasm. One file per area.
export * from "./crypto/io";
export * from "./crypto/hash";
export * from "./crypto/rsa";
export * from "./crypto/ecdsa";
export * from "./crypto/eddsa";
