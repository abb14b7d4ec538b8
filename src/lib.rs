//! clientd: a self-hosted OAuth client-management service.
//!
//! Only wiring: the modules, and what the binary and the tests start from. `cli::run` is the
//! whole program behind `main`; `serve` starts the API on a listener the caller provides and
//! stops when `shutdown` completes, so tests run the real server on port 0.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod server;
pub mod start;
pub mod store;
pub mod telemetry;

pub use start::{StartError, connect, serve};
