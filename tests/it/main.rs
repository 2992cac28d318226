//! Integration tests: they drive the built `starling` binary, as a user would.

mod api;
mod cli;
mod examples;
mod logging;
mod lua;
mod robustness;
mod services;
mod support;
mod terminal;
