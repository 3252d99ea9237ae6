/**
 * What every filter's `parseConfig(reader)` returns: the configuration, or the reader's
 * first error as one line (`path: reason`, reader.ts). `proxy_on_configure` logs the error
 * and returns false, so Envoy rejects the plugin's configuration.
 */
import { ConfigReader } from "./reader";

export class ConfigResult<T> {
  private constructor(
    /** The configuration; null when `error` is set. */
    readonly config: T | null,
    /** The first error (`path: reason`); empty when the configuration was read. */
    readonly error: string,
  ) {}

  /** `config` when `reader` recorded no error, else the reader's error. */
  static of<T>(reader: ConfigReader, config: T): ConfigResult<T> {
    return reader.ok ? new ConfigResult<T>(config, "") : new ConfigResult<T>(null, reader.error);
  }

  /** An error found outside the reader (a resource the configuration names is missing). */
  static failed<T>(error: string): ConfigResult<T> {
    return new ConfigResult<T>(null, error);
  }

  get ok(): bool {
    return this.config !== null;
  }
}
