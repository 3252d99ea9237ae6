//! A filter that does nothing: a root context and, per stream, an HTTP context whose
//! callbacks keep the SDK's defaults (Continue). The Rust SDK's floor per request, the
//! twin of test/wasm/noop/index.ts.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot) });
}}

struct NoopRoot;

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(NoopStream))
    }
}

struct NoopStream;

impl Context for NoopStream {}

impl HttpContext for NoopStream {}
