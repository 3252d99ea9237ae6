/** Programmable upstreams for tests and the demo: HTTP/1.1 + h2c (http.ts) and gRPC (grpc.ts). */
export * from './http.ts';
export * from './grpc.ts';
