/**
 * hello's contexts: the root context reads the configuration once (`proxy_on_configure`),
 * a stream context per HTTP request greets it or denies it.
 */
import { FilterHeadersStatus, HeaderName, HttpContext, RootContext, ascii, logError } from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { HelloConfig, parseConfig } from "./config";
import { HelloStats } from "./stats";

// A constant name: static bytes (the build stores `ascii.bytes` literals as data).
const PATH = changetype<HeaderName>(ascii.bytes(":path"));

export class HelloRoot extends RootContext {
  config: HelloConfig | null = null;
  stats: HelloStats | null = null;

  onConfigure(pluginConfigurationSize: usize): bool {
    const result = parseConfig(ConfigReader.fromBuffer(this.getPluginConfiguration()));
    const config = result.config;
    if (config === null) {
      logError("hello: " + result.error);
      return false; // Envoy rejects the configuration
    }
    this.config = config;
    this.stats = new HelloStats(config.statPrefix);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    const config = this.config;
    const stats = this.stats;
    // No stream context without a configuration: Envoy then runs the stream without us.
    return config !== null && stats !== null ? new HelloStream(contextId, this, config, stats) : null;
  }
}

class HelloStream extends HttpContext {
  constructor(
    contextId: u32,
    root: HelloRoot,
    readonly config: HelloConfig,
    readonly stats: HelloStats,
  ) {
    super(contextId, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.config;
    const headers = this.requestHeaders;
    if (config.denyPathPrefix.length > 0) {
      const path = headers.get(PATH);
      if (path !== null && path.startsWith(config.denyPathPrefix)) {
        this.stats.denied.increment();
        this.sendLocalResponse(403, "hello_denied", "denied by hello\n");
        return FilterHeadersStatus.StopAllIterationAndWatermark;
      }
    }
    headers.replace(config.header, config.greeting);
    this.stats.greeted.increment();
    return FilterHeadersStatus.Continue;
  }
}
