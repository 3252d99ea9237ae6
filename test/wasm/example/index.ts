// A tiny complete filter built on the SDK, for the host and proxy suites and benchmarks.
//
// Plugin configuration: plain `key=value` lines ('#' starts a comment line):
//   request_header=<name>     header added to every request     (default x-example-request)
//   request_value=<value>     its value                          (default 1)
//   response_header=<name>    header added to every response    (default x-example-response)
//   response_value=<value>    its value                          (default 1)
//   counter=<metric name>     counter incremented per request   (default example_requests_total)
// An unknown key or a line without '=' makes `proxy_on_configure` fail with an error log.

export * from '../../../assembly/proxy-wasm/exports';

import {
  Counter,
  FilterHeadersStatus,
  HeaderName,
  HttpContext,
  RootContext,
  logError,
  registerRootContext,
  utf8,
} from '../../../assembly/proxy-wasm';

class ExampleConfig {
  requestHeader: HeaderName = HeaderName.of('x-example-request');
  requestValue: ArrayBuffer = utf8('1');
  responseHeader: HeaderName = HeaderName.of('x-example-response');
  responseValue: ArrayBuffer = utf8('1');
  counterName: string = 'example_requests_total';
}

// Parses the configuration text; null (after logging the reason) when it is invalid.
function parseConfig(text: string): ExampleConfig | null {
  const config = new ExampleConfig();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length == 0 || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      logError('example: line ' + (i + 1).toString() + ': expected key=value');
      return null;
    }
    const key = line.substring(0, eq).trim();
    const value = line.substring(eq + 1).trim();
    if (key == 'request_header') config.requestHeader = HeaderName.of(value.toLowerCase());
    else if (key == 'request_value') config.requestValue = utf8(value);
    else if (key == 'response_header') config.responseHeader = HeaderName.of(value.toLowerCase());
    else if (key == 'response_value') config.responseValue = utf8(value);
    else if (key == 'counter') config.counterName = value;
    else {
      logError('example: line ' + (i + 1).toString() + ': unknown key "' + key + '"');
      return null;
    }
  }
  return config;
}

class ExampleRoot extends RootContext {
  config: ExampleConfig = new ExampleConfig();
  requests: Counter | null = null;

  onConfigure(pluginConfigurationSize: usize): bool {
    const text = pluginConfigurationSize > 0 ? this.getPluginConfigurationString() : '';
    const config = parseConfig(text !== null ? text : '');
    if (!config) return false;
    this.config = config;
    this.requests = Counter.define(config.counterName);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new ExampleStream(contextId, this);
  }
}

class ExampleStream extends HttpContext {
  constructor(contextId: u32, readonly plugin: ExampleRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.plugin.config;
    this.requestHeaders.addBytes(config.requestHeader, config.requestValue);
    const requests = this.plugin.requests;
    if (requests) requests.increment();
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.plugin.config;
    this.responseHeaders.addBytes(config.responseHeader, config.responseValue);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext((contextId: u32): RootContext => new ExampleRoot(contextId));
