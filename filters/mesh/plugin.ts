/**
 * mesh's root context: the chain's members made from its configuration (config.ts), each
 * the filter's own root context, configured with its part. The streams are
 * assembly/proxy-wasm/chain.ts `HttpContextChain`s of the members' stream contexts.
 */
import { RootContext, RootContextChain, formatInteger, logError, logWarn } from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { CircuitBreakerRoot } from "../circuit-breaker/plugin";
import { JwtAuthRoot } from "../jwt-auth/plugin";
import { RateLimitRoot } from "../rate-limit/plugin";
import { RetryRoot } from "../retry/plugin";
import { MemberConfig, parseConfig } from "./config";

/** A member's root context of the kind `kind` (an index of config.ts `FILTER_NAMES`). */
function makeMember(kind: i32, contextId: u32): RootContext {
  switch (kind) {
    case 0: return new JwtAuthRoot(contextId);
    case 1: return new RateLimitRoot(contextId);
    case 2: return new CircuitBreakerRoot(contextId);
    default: return new RetryRoot(contextId);
  }
}

export class MeshRoot extends RootContextChain {
  onConfigure(pluginConfigurationSize: usize): bool {
    const parsed = parseConfig(ConfigReader.fromBuffer(this.getPluginConfiguration()));
    const config = parsed.config;
    if (config === null) {
      logError("mesh: " + parsed.error);
      return false;
    }
    const members = config.members;
    for (let i = 0, n = members.length; i < n; i++) {
      const member: MemberConfig = unchecked(members[i]);
      this.addMember(makeMember(member.kind, this.contextId), member.configuration);
    }
    const refused = this.configureMembers();
    if (refused >= 0) {
      // The member logged its error (the line Envoy reports), with paths inside its own
      // configuration; this line says which member it was.
      const at = "filters[" + formatInteger(refused) + "]";
      logWarn("mesh: " + at + " (" + unchecked(members[refused]).name + ") refused its configuration: the error above, its paths under " + at + ".config");
      return false;
    }
    return true;
  }
}
