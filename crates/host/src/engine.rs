//! The engine of one worker: Lua and native processes side by side.
//!
//! Each worker runs both kinds in one pid space. Spawns are routed by entry id (a registered
//! native kind, or else Lua); steps and releases by slot (a native slot is one the native
//! engine holds; every other live slot is Lua's). The Lua VM is created on the worker's first
//! Lua spawn, so a runtime of Rust processes only never pays for one.

use std::rc::Rc;
use std::sync::Arc;

use starling_core::{
    Engine, ErrorKind, ErrorValue, ExitReason, HostKind, Local, Pid, SpawnRequest, Step,
};
use starling_lua::{LuaEngine, Program, Services};
use starling_native::{Kinds, NativeEngine};

/// What every worker's engine is built from.
#[derive(Clone)]
pub(crate) struct EngineParts {
    pub(crate) program: Arc<Program>,
    pub(crate) services: Arc<dyn Services>,
    pub(crate) kinds: Arc<Kinds>,
    /// `host.memory_limit` of the worker's host, for its Lua VM.
    pub(crate) memory_limit: usize,
}

/// One worker's engines.
pub(crate) struct HostEngine {
    local: Rc<Local>,
    parts: EngineParts,
    lua: Option<LuaEngine>,
    native: NativeEngine,
    terminal: bool,
}

impl HostEngine {
    pub(crate) fn new(local: &Rc<Local>, parts: EngineParts) -> HostEngine {
        HostEngine {
            local: local.clone(),
            native: NativeEngine::new(local.clone(), parts.kinds.clone()),
            terminal: local.node().host_kind(local.host()) == HostKind::Terminal,
            parts,
            lua: None,
        }
    }

    fn lua(&mut self) -> Result<&mut LuaEngine, ErrorValue> {
        if self.lua.is_none() {
            let engine = LuaEngine::new(
                self.local.clone(),
                self.parts.program.clone(),
                self.parts.services.clone(),
            )
            .and_then(|e| e.set_memory_limit(self.parts.memory_limit).map(|()| e))
            .map_err(|e| {
                ErrorValue::new(ErrorKind::Internal, format!("cannot create a Lua VM: {e}"))
            })?;
            self.lua = Some(engine);
        }
        Ok(self.lua.as_mut().expect("created above"))
    }
}

impl Engine for HostEngine {
    fn step(&mut self, slot: u32) -> Step {
        if self.native.owns(slot) {
            return self.native.step(slot);
        }
        match &mut self.lua {
            Some(lua) => lua.step(slot),
            None => Step::Exit(ExitReason::error(ErrorValue::new(
                ErrorKind::Internal,
                "process state missing",
            ))),
        }
    }

    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        if self.terminal && !self.local.is_empty() {
            return Err(ErrorValue::new(
                ErrorKind::Unavailable,
                "terminal host busy",
            ));
        }
        if self.native.handles(&req.entry) {
            return self.native.spawn(req);
        }
        self.lua()?.spawn(req)
    }

    fn release(&mut self, slot: u32) {
        if self.native.owns(slot) {
            self.native.release(slot);
        } else if let Some(lua) = &mut self.lua {
            lua.release(slot);
        }
    }
}
