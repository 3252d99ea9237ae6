/**
 * Reading Envoy and Istio configuration files (YAML or JSON) with one-line errors.
 *
 * Envoy picks the format by extension (`.yaml`/`.yml`/`.json`; `MessageUtil::loadFromFile`,
 * source/common/protobuf/utility.cc); JSON is YAML, so both go through the `yaml` package
 * with merge keys (`<<`) on, as yaml-cpp has them, and duplicate keys rejected, as Envoy does.
 * Problems inside a document are `Issue`s, located by `joinPath` paths.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

/** One problem found in a document: `path` of the value (empty: the whole document) and why. */
export interface Issue {
  /** Path of the value as written in the document, e.g. `static_resources.listeners[0].name`. */
  path: string;
  message: string;
}

/** `path` extended by a key or index: `a.b`, `a[0]`, `a["@type"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** A JSON value as an error message names it: `"abc"`, `12`, `an object`, `nothing`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}

/** A problem with a configuration file, worded as the one line a user sees. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads every document of a YAML/JSON file. Throws ConfigError (`file:line:col: reason`). */
export function readConfigDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConfigError(`${file}: cannot read: ${why}`);
  }
  const docs = YAML.parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: unknown[] = [];
  for (const doc of list) {
    const problem = doc.errors[0];
    if (problem) {
      const at = problem.linePos?.[0];
      const where = at ? `${file}:${at.line}:${at.col}` : file;
      throw new ConfigError(`${where}: YAML error: ${problem.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    const value = doc.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) values.push(value);
  }
  if (!values.length) throw new ConfigError(`${file}: the file holds no configuration`);
  return values;
}

/** Reads a file holding exactly one document. */
export function readConfigFile(file: string): unknown {
  const docs = readConfigDocuments(file);
  if (docs.length > 1) throw new ConfigError(`${file}: expected one YAML document, found ${docs.length}`);
  return docs[0];
}
