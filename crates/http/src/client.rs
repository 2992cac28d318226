//! `http_client`: outgoing requests.

use starling_core::{ErrorKind, ErrorValue, ReplyTo};
use starling_lua::services::http::OutgoingRequest;

use crate::runtime::Shared;

/// Streamed response bodies, by id.
#[derive(Default)]
pub(crate) struct ClientState {}

impl ClientState {
    pub(crate) fn close(&self, _stream: u64) {}
}

pub(crate) fn fetch(shared: &Shared, _request: OutgoingRequest, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}

pub(crate) fn stream_read(shared: &Shared, _stream: u64, _max: usize, reply: ReplyTo) {
    shared.wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
