//! The small filter: adds `x-example-request: 1` to each request, `x-example-response: 1`
//! to each response, and counts requests in `example_requests_total`. The twin of our
//! SDK's example filter (test/wasm/example/index.ts with an empty configuration), making
//! the same hostcalls per request: two `proxy_add_header_map_value`, one
//! `proxy_increment_metric`.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(SmallRoot { requests: 0 }) });
}}

struct SmallRoot {
    /// Metric id of `example_requests_total`, defined in `on_configure`.
    requests: u32,
}

impl Context for SmallRoot {}

impl RootContext for SmallRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        match hostcalls::define_metric(MetricType::Counter, "example_requests_total") {
            Ok(id) => {
                self.requests = id;
                true
            }
            Err(_) => false,
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(SmallStream { requests: self.requests }))
    }
}

struct SmallStream {
    requests: u32,
}

impl Context for SmallStream {}

impl HttpContext for SmallStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.add_http_request_header("x-example-request", "1");
        let _ = hostcalls::increment_metric(self.requests, 1);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.add_http_response_header("x-example-response", "1");
        Action::Continue
    }
}
