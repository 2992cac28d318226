//! `websocket`: client connections.

use starling_core::{ErrorKind, ErrorValue, ReplyTo};
use starling_lua::services::http::{WsConnect, WsSend};

use crate::runtime::Shared;

/// Open connections, by id.
#[derive(Default)]
pub(crate) struct WsClients {}

pub(crate) fn connect(shared: &Shared, _r: WsConnect, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
pub(crate) fn send(shared: &Shared, _c: u64, _d: Vec<u8>, _k: WsSend, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
pub(crate) fn recv(shared: &Shared, _c: u64, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
pub(crate) fn close(shared: &Shared, _c: u64, _code: u16, _r: String, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
