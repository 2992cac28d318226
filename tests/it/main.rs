//! Integration tests: they drive the built `starling` binary (and the Rust examples) as a
//! user would, and the embedding API in-process.

mod api;
mod architecture;
mod cli;
mod cluster;
mod commands;
mod examples;
mod hostile;
mod http;
mod loading;
mod logging;
mod lua;
mod native;
mod robustness;
mod services;
mod support;
mod terminal;
