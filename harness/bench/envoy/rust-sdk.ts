/**
 * Builds the proxy-wasm-rust-sdk twins of our SDK's no-op and small filters
 * (harness/bench/rust-sdk, a cargo workspace pinned to `proxy-wasm = "=0.2.5"` with its
 * Cargo.lock) into `.cache/bench/rust-sdk` (git ignores `.cache/`):
 *
 *     rustup target add wasm32-wasip1
 *     cargo build --release --target wasm32-wasip1 --target-dir .cache/bench/rust-sdk
 *
 * Cargo rebuilds only what changed. Returns why it could not build (no cargo), or null.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../build.ts';

const WORKSPACE = path.join(projectRoot, 'harness', 'bench', 'rust-sdk');
const TARGET_DIR = path.join(projectRoot, '.cache', 'bench', 'rust-sdk');

export function buildRustSdkFilters(log: (line: string) => void): string | null {
  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
  if (cargo.error) return 'cargo is not installed (https://rustup.rs)';
  const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' });
  if (!installed.error && !installed.stdout.split('\n').includes('wasm32-wasip1')) {
    log('bench: adding the Rust target: rustup target add wasm32-wasip1');
    const add = spawnSync('rustup', ['target', 'add', 'wasm32-wasip1'], { encoding: 'utf8' });
    if (add.status !== 0) return `rustup target add wasm32-wasip1 failed: ${add.stderr.trim().split('\n').pop()}`;
  }
  const build = spawnSync('cargo', ['build', '--release', '--locked', '--target', 'wasm32-wasip1', '--manifest-path', path.join(WORKSPACE, 'Cargo.toml'), '--target-dir', TARGET_DIR], { encoding: 'utf8' });
  if (build.status !== 0) return `cargo build failed: ${build.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return null;
}
