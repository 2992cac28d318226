//! Starling layer 3 (beside the Lua engine): processes written in async Rust.
//!
//! A native process is an async function that gets a [`Context`] and its spawn arguments. It
//! lives in the same pid space as Lua processes, on the same hosts and workers: it sends and
//! receives the same payloads, spawns Lua or Rust entries, monitors and links across the two,
//! and registers names Lua code looks up. The runtime polls its future on one worker thread,
//! so the future need not be `Send`.
//!
//! - [`kinds`]: [`Process`], the trait every process function implements, and [`Kinds`], the
//!   entry ids they are registered under.
//! - [`context`]: [`Context`], a process's handle on the runtime, and its futures.
//! - [`engine`]: [`NativeEngine`], what a worker runs them with.
//! - [`error`]: typed errors, each convertible into the error a process ends with.
//!
//! Embedding (building a runtime, registering kinds, running a project) is in `starling`'s
//! `Runtime`; this crate is what process code uses.
//!
//! ```
//! use starling_native::Context;
//! use starling_core::{ErrorValue, Payload, Pid};
//!
//! /// Replies to its first message with the text upper-cased, then ends.
//! async fn upper(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
//!     let msg = ctx.recv().await;
//!     let text: String = msg.payload.decode()?;
//!     if let Some(from) = msg.from {
//!         ctx.send(from, "upper", &text.to_uppercase())?;
//!     }
//!     Ok(0)
//! }
//! ```

pub mod context;
pub mod engine;
pub mod error;
pub mod kinds;
mod proc;

pub use context::{Context, Dest, Spawn};
pub use engine::NativeEngine;
pub use error::{KindError, RegisterError, RelationError, SendError, SpawnError};
pub use kinds::{IntoExit, Kinds, Process, ProcessFuture};
