//! The engines of every worker: Lua and native processes side by side.
//!
//! Each worker runs both kinds in one pid space. The core routes a spawn by entry id: a
//! registered native kind goes to the native engine, everything else to the Lua engine (which
//! reports unknown entries). The Lua VM is made at the worker's first Lua spawn, so a runtime
//! of Rust processes only never pays for one.

use std::sync::Arc;

use starling_core::{Clock, Engine, WorkerSetup};
use starling_lua::{LuaEngine, Program, Services};
use starling_native::{Kinds, NativeEngine};

/// Index of the Lua engine in a worker's list.
const LUA: usize = 0;
/// Index of the native engine.
const NATIVE: usize = 1;

/// How the workers of a host with `memory_limit` bytes of Lua memory per worker and a
/// `watchdog` bound on code that cannot yield are made.
pub(crate) fn worker_setup(
    program: Arc<Program>,
    services: Arc<dyn Services>,
    kinds: Arc<Kinds>,
    memory_limit: usize,
    watchdog: std::time::Duration,
) -> WorkerSetup {
    let router_kinds = kinds.clone();
    WorkerSetup {
        engines: Arc::new(move |local| {
            let mut lua = LuaEngine::new(
                local.clone(),
                program.clone(),
                services.clone(),
                memory_limit,
            );
            lua.set_watchdog(watchdog);
            vec![
                Box::new(lua) as Box<dyn Engine>,
                Box::new(NativeEngine::new(local.clone(), kinds.clone())),
            ]
        }),
        router: Arc::new(move |entry| {
            if !router_kinds.is_empty() && router_kinds.contains(entry) {
                NATIVE
            } else {
                LUA
            }
        }),
        clock: Clock::Real,
    }
}
