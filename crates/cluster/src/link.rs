//! One peer as this node sees it: its incarnation, whether it is up, and the two directions
//! of the session with it.
//!
//! # Sessions
//! Each direction is a numbered session of numbered frames. A receiver accepts frame `n + 1`
//! of the session it follows and nothing else: a gap (a frame lost by the at-most-once
//! network), a heartbeat claiming frames that never came, a frame of a newer session the
//! receiver did not expect, or a newer incarnation ends the session, and ending a session
//! fires node-down ([`Link::end`]). Both directions end together: the side that ends them
//! sends a `Reset` for the other's session (and its heartbeats show its own new session), and
//! the other side, learning it, ends its own at once. So a frame is never lost silently: a
//! loss always comes with a node-down on both sides, and nothing of an ended session is
//! delivered after it.

use std::time::Instant;

use starling_core::{PeerState, ReplyTo};

/// This node's view of one peer.
#[derive(Debug)]
pub(crate) struct Link {
    /// Index in the node table.
    pub(crate) idx: u32,
    /// Node name.
    pub(crate) name: &'static str,
    /// The peer's incarnation (0 = not heard yet).
    pub(crate) inc: u64,
    /// Up, down or never heard.
    pub(crate) state: PeerState,
    /// Last frame or heartbeat from it.
    pub(crate) last_heard: Option<Instant>,
    /// Session number of this node's frames to it (from 1).
    pub(crate) out_session: u64,
    /// Frames sent in `out_session`.
    pub(crate) out_seq: u64,
    /// Items not yet framed.
    pub(crate) out_buf: Vec<u8>,
    /// The peer's session this node follows (0: none yet).
    pub(crate) in_session: u64,
    /// Frames accepted in `in_session`.
    pub(crate) in_seq: u64,
    /// `in_session` was ended here: its frames are refused until a newer one starts.
    pub(crate) in_dead: bool,
    /// Bytes of a partly received item.
    pub(crate) in_buf: Vec<u8>,
    /// When a `Reset` was last sent for a refused session (sent again at most once per
    /// heartbeat, in case it was lost).
    pub(crate) reset_at: Option<Instant>,
    /// Spawns sent to it and not answered yet: answered with `node disconnected` if it goes
    /// down first.
    pub(crate) spawns: Vec<ReplyTo>,
    /// Times this node declared it down.
    pub(crate) downs: u64,
}

impl Link {
    pub(crate) fn new(idx: u32, name: &'static str) -> Link {
        Link {
            idx,
            name,
            inc: 0,
            state: PeerState::Unknown,
            last_heard: None,
            out_session: 1,
            out_seq: 0,
            out_buf: Vec::new(),
            in_session: 0,
            in_seq: 0,
            in_dead: false,
            in_buf: Vec::new(),
            reset_at: None,
            spawns: Vec::new(),
            downs: 0,
        }
    }

    /// Ends both directions of the session. Returns true when the peer was up (the caller
    /// fires node-down then) and, when the peer's session is to be refused, its number (the
    /// caller sends a `Reset` for it).
    pub(crate) fn end(&mut self) -> (bool, Option<u64>) {
        let was_up = self.state == PeerState::Up;
        self.state = PeerState::Down;
        if was_up {
            self.downs += 1;
        }
        let refuse = if self.in_dead {
            None
        } else {
            self.in_dead = true;
            Some(self.in_session)
        };
        self.in_buf.clear();
        self.out_session += 1;
        self.out_seq = 0;
        self.out_buf.clear();
        (was_up, refuse)
    }

    /// True when the peer announcing `session` means it ended the session this node follows
    /// without this node having ended it: the caller ends its side too (before
    /// [`Link::learn_session`]).
    pub(crate) fn breaks(&self, session: u64) -> bool {
        session > self.in_session && self.in_session != 0 && !self.in_dead
    }

    /// Follows the peer's session `session` if it is newer than the one followed.
    pub(crate) fn learn_session(&mut self, session: u64) {
        if session <= self.in_session {
            return;
        }
        self.in_session = session;
        self.in_seq = 0;
        self.in_dead = false;
        self.in_buf.clear();
    }

    /// A new incarnation of the peer: everything about the old one is forgotten. Returns
    /// true when the old one was up.
    pub(crate) fn reincarnate(&mut self, inc: u64) -> bool {
        let was_up = self.state == PeerState::Up;
        if was_up {
            self.downs += 1;
        }
        self.inc = inc;
        self.state = PeerState::Down;
        self.in_session = 0;
        self.in_seq = 0;
        self.in_dead = false;
        self.in_buf.clear();
        self.out_session += 1;
        self.out_seq = 0;
        self.out_buf.clear();
        was_up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_refuses_the_old_session_until_a_newer_one() {
        let mut l = Link::new(1, "b");
        l.state = PeerState::Up;
        assert!(!l.breaks(1), "first session: nothing to end");
        l.learn_session(1);
        l.in_seq = 3;
        assert_eq!(l.end(), (true, Some(1)));
        assert_eq!(l.end(), (false, None), "once");
        assert_eq!(l.out_session, 3);
        assert!(l.in_dead);
        l.learn_session(1);
        assert!(l.in_dead, "old session stays refused");
        assert!(!l.breaks(2), "a newer one is accepted, no second node-down");
        l.learn_session(2);
        assert!(!l.in_dead);
        assert!(l.breaks(3), "a newer one without a reset here ends it");
    }
}
