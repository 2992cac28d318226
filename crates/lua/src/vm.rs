//! The engine of one worker thread: its Luau VM, made at the worker's first Lua spawn so a
//! worker running only Rust processes never pays for one, and the core's engine hooks.

use std::rc::Rc;
use std::sync::Arc;

use mlua::Lua;
use starling_core::{ErrorKind, ErrorValue, ExitReason, Local, Pid, StartArgs, Step};

use crate::engine::Ctx;
use crate::ffi;
use crate::program::Program;
use crate::rt::{memory, sched, spawn};
use crate::services::Services;

/// The engine of one worker thread.
pub struct LuaEngine {
    local: Rc<Local>,
    program: Arc<Program>,
    services: Arc<dyn Services>,
    memory_limit: usize,
    watchdog: std::time::Duration,
    vm: Option<(Lua, Rc<Ctx>)>,
}

impl std::fmt::Debug for LuaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaEngine").finish_non_exhaustive()
    }
}

impl LuaEngine {
    /// The engine of a worker; `memory_limit` (bytes, 0 = none) is its VM's Lua memory
    /// budget (`host.memory_limit`): a process whose allocation would pass it ends with an
    /// out-of-memory error, the others keep running.
    pub fn new(
        local: Rc<Local>,
        program: Arc<Program>,
        services: Arc<dyn Services>,
        memory_limit: usize,
    ) -> LuaEngine {
        LuaEngine {
            local,
            program,
            services,
            memory_limit,
            watchdog: crate::engine::DEFAULT_WATCHDOG,
            vm: None,
        }
    }

    /// How long code may run where it cannot yield (a metamethod, a `table.sort` comparator,
    /// a user coroutine, a pattern match) before it is ended with an error.
    pub fn set_watchdog(&mut self, d: std::time::Duration) {
        self.watchdog = d;
    }

    /// The VM, made on first use.
    fn vm(&mut self) -> Result<&(Lua, Rc<Ctx>), ErrorValue> {
        if self.vm.is_none() {
            let made = (|| -> mlua::Result<(Lua, Rc<Ctx>)> {
                let lua = ffi::new_lua()?;
                let mut ctx = Ctx::new(
                    self.local.clone(),
                    self.program.clone(),
                    self.services.clone(),
                );
                ctx.watchdog = self.watchdog;
                let ctx = Rc::new(ctx);
                crate::modules::install(&lua, &ctx)?;
                if self.memory_limit > 0 {
                    memory::set_memory_limit(&lua, self.memory_limit)?;
                }
                ffi::set_kill_switch(self.local.kill_switch());
                Ok((lua, ctx))
            })()
            .map_err(|e| {
                ErrorValue::new(ErrorKind::Internal, format!("cannot create a Lua VM: {e}"))
            })?;
            self.vm = Some(made);
        }
        Ok(self.vm.as_ref().expect("made above"))
    }
}

impl starling_core::Engine for LuaEngine {
    fn start(&mut self, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue> {
        let (lua, ctx) = self.vm()?;
        let _entered = Ctx::enter(ctx);
        spawn::start(lua, ctx, slot, pid, args)
    }

    fn step(&mut self, slot: u32) -> Step {
        match &self.vm {
            Some((lua, ctx)) => {
                let _entered = Ctx::enter(ctx);
                sched::step(lua, ctx, slot)
            }
            None => Step::Exit(ExitReason::error(ErrorValue::new(
                ErrorKind::Internal,
                "process state missing",
            ))),
        }
    }

    fn release(&mut self, slot: u32) {
        if let Some((lua, ctx)) = &self.vm {
            let _entered = Ctx::enter(ctx);
            spawn::release(lua, ctx, slot);
        }
    }
}
