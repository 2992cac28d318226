//! `channel` and `coroutine.spawn` (SPEC §7): the primitives the prelude wraps. Receive, send,
//! close, the cases and `select` are raw C functions (`rt::hot`); making a channel is not on
//! a hot path and stays an mlua function.

use std::cell::RefCell;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::rc::Rc;

use mlua::{AnyUserData, Lua, Table, Value};

use crate::args::seal;
use crate::engine::{Ctx, misuse};
use crate::ffi::{self, c_function, c_function_blocking};
use crate::rt::chan::{Chan, ChanKind, ChanState};
use crate::rt::hot;

/// Creates a channel userdata; a user channel gets a store for its values and is tracked by
/// the current process (whose end empties the store).
pub(crate) fn new_chan(
    lua: &Lua,
    ctx: &Ctx,
    kind: ChanKind,
    cap: usize,
) -> mlua::Result<(AnyUserData, Rc<RefCell<ChanState>>)> {
    new_chan_charged(lua, ctx, kind, cap, 0)
}

/// [`new_chan`] whose userdata also carries `charge` bytes against the VM's memory limit
/// (a timer channel: what its timer costs outside Lua while the channel lives).
pub(crate) fn new_chan_charged(
    lua: &Lua,
    ctx: &Ctx,
    kind: ChanKind,
    cap: usize,
    charge: usize,
) -> mlua::Result<(AnyUserData, Rc<RefCell<ChanState>>)> {
    let store = match kind {
        ChanKind::User => Some(ffi::new_store(lua, cap)?),
        _ => None,
    };
    let st = ChanState::new(kind, cap, store);
    let ud = ffi::new_udata_charged(lua, Chan { st: st.clone() }, charge)?;
    if store.is_some() {
        if let Some(p) = ctx.try_current() {
            p.track(&st);
        }
    }
    Ok((ud, st))
}

/// What [`make_specials`] makes.
pub(crate) struct MadeSpecials {
    pub(crate) inbox: c_int,
    pub(crate) events: c_int,
    pub(crate) inbox_case: c_int,
    pub(crate) events_case: c_int,
    /// The two receive cases' identities and their channels' state, so `select` knows them
    /// without reading their fields.
    pub(crate) inbox_case_id: *const c_void,
    pub(crate) events_case_id: *const c_void,
    pub(crate) inbox_st: Rc<RefCell<ChanState>>,
    pub(crate) events_st: Rc<RefCell<ChanState>>,
    pub(crate) case_meta: c_int,
    pub(crate) case_meta_id: *const c_void,
}

/// The channel metatable, the case metatable, and the VM's inbox and events channels with
/// their receive cases (one each: they act on the running process).
pub(crate) fn make_specials(lua: &Lua) -> mlua::Result<MadeSpecials> {
    let meta = lua.create_table()?;
    let methods = lua.create_table()?;
    let receive = c_function_blocking::<hot::Receive, hot::Answer>(lua, c"receive", None)?;
    methods.raw_set("receive", receive)?;
    methods.raw_set(
        "send",
        c_function_blocking::<hot::ChanSend, hot::Answer>(lua, c"send", None)?,
    )?;
    methods.raw_set("close", c_function::<hot::ChanClose>(lua, c"close", None)?)?;
    methods.raw_set(
        "case_receive",
        c_function::<hot::CaseReceive>(lua, c"case_receive", None)?,
    )?;
    methods.raw_set(
        "case_send",
        c_function::<hot::CaseSend>(lua, c"case_send", None)?,
    )?;
    meta.raw_set("__index", seal(&methods))?;
    meta.raw_set(
        "__tostring",
        c_function::<hot::ChanToString>(lua, c"tostring", None)?,
    )?;
    meta.raw_set("__metatable", false)?;
    ffi::register_tag::<Chan>(lua, &seal(&meta))?;

    let case_meta = lua.create_table()?;
    case_meta.raw_set("__metatable", false)?;
    case_meta.raw_set(
        "__tostring",
        lua.create_function(|_, t: Table| {
            Ok(if t.raw_get::<bool>(2).unwrap_or(false) {
                "case{send}"
            } else {
                "case{receive}"
            })
        })?,
    )?;
    let case_meta = seal(&case_meta);
    let case_meta_id = case_meta.to_pointer();
    let case_meta_ref = ffi::make_ref(lua, &case_meta)?;

    let inbox_st = ChanState::new(ChanKind::Inbox, 0, None);
    let events_st = ChanState::new(ChanKind::Events, 0, None);
    let inbox = ffi::new_udata(
        lua,
        Chan {
            st: inbox_st.clone(),
        },
    )?;
    let events = ffi::new_udata(
        lua,
        Chan {
            st: events_st.clone(),
        },
    )?;
    let case = |ch: &AnyUserData| -> mlua::Result<(c_int, *const c_void)> {
        let t = lua.create_table()?;
        t.raw_set(1, ch.clone())?;
        t.set_metatable(Some(case_meta.clone()))?;
        let t = seal(&t);
        Ok((ffi::make_ref(lua, &t)?, t.to_pointer()))
    };
    let (inbox_case, inbox_case_id) = case(&inbox)?;
    let (events_case, events_case_id) = case(&events)?;
    Ok(MadeSpecials {
        inbox_case,
        events_case,
        inbox_case_id,
        events_case_id,
        inbox_st,
        events_st,
        inbox: ffi::make_ref(lua, inbox)?,
        events: ffi::make_ref(lua, events)?,
        case_meta: case_meta_ref,
        case_meta_id,
    })
}

pub(crate) fn install_raw(lua: &Lua, ctx: &Rc<Ctx>, raw: &Table) -> mlua::Result<()> {
    let c = ctx.clone();
    raw.raw_set(
        "chan_new",
        lua.create_function(move |lua, n: Option<Value>| {
            let cap = match n {
                None | Some(Value::Nil) => 0,
                Some(Value::Integer(i)) if i >= 0 => i as usize,
                Some(Value::Number(f)) if f >= 0.0 && f.fract() == 0.0 => f as usize,
                Some(other) => {
                    return Err(misuse(format!(
                        "bad argument #1 to 'new' (non-negative integer expected, got {})",
                        other
                            .to_string()
                            .unwrap_or_else(|_| other.type_name().into())
                    )));
                }
            };
            Ok(new_chan(lua, &c, ChanKind::User, cap)?.0)
        })?,
    )?;
    raw.raw_set(
        "select",
        c_function_blocking::<hot::Select, hot::Answer>(lua, c"select", None)?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "spawn_coroutine",
        lua.create_function(move |lua, f: Value| match f {
            Value::Function(f) => crate::rt::spawn::spawn_task(lua, &c, f),
            other => Err(misuse(format!(
                "bad argument #1 to 'spawn' (function expected, got {})",
                crate::args::arg_type(&other)
            ))),
        })?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "close_task",
        lua.create_function(move |_, co: Value| match co {
            Value::Thread(co) => Ok(match crate::rt::spawn::close_task(&c, &co) {
                Ok(()) => (true, None),
                Err(msg) => (false, Some(msg)),
            }),
            _ => Ok((true, None)),
        })?,
    )?;
    Ok(())
}
