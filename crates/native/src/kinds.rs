//! Native process kinds: Rust functions registered under entry ids.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use starling_core::{ErrorValue, ExitResult, Payload};

use crate::context::Context;
use crate::error::KindError;

/// A process body as the engine keeps it: a future that runs on one worker thread (it need
/// not be `Send`) and ends with the process's result.
pub type ProcessFuture = Pin<Box<dyn Future<Output = ExitResult>>>;

/// What a process body may return: `()` (a normal end with no value), or a `Result` whose
/// `Ok` value becomes the result payload (what a monitor's EXIT carries) and whose `Err`
/// becomes the error the process fails with.
pub trait IntoExit {
    /// Converts into the process's exit result.
    fn into_exit(self) -> ExitResult;
}

impl IntoExit for () {
    fn into_exit(self) -> ExitResult {
        Ok(Payload::empty())
    }
}

impl<T: Serialize, E: Into<ErrorValue>> IntoExit for Result<T, E> {
    fn into_exit(self) -> ExitResult {
        match self {
            Ok(v) => Payload::encode(&v).map_err(ErrorValue::from),
            Err(e) => Err(e.into()),
        }
    }
}

/// A native process kind: starts a process body from its context and spawn arguments.
///
/// Implemented for every `Fn(Context, Payload) -> impl Future<Output = impl IntoExit>` that is
/// `Send + Sync + 'static`, so an `async fn` registers as is:
///
/// ```
/// use starling_native::{Context, Process};
/// use starling_core::{ErrorValue, Payload};
///
/// async fn hello(ctx: Context, args: Payload) -> Result<String, ErrorValue> {
///     let name: String = args.decode()?;
///     Ok(format!("hello {name} from {}", ctx.pid_string()))
/// }
///
/// fn takes(_: impl Process) {}
/// takes(hello);
/// ```
pub trait Process: Send + Sync + 'static {
    /// Creates the process body. Called on the worker thread that will run it.
    fn start(&self, ctx: Context, args: Payload) -> ProcessFuture;
}

impl<F, Fut> Process for F
where
    F: Fn(Context, Payload) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: IntoExit,
{
    fn start(&self, ctx: Context, args: Payload) -> ProcessFuture {
        let fut = self(ctx, args);
        Box::pin(async move { fut.await.into_exit() })
    }
}

/// Every native kind of a runtime, by entry id. Built before the runtime starts and shared,
/// read-only, by all workers.
#[derive(Default, Clone)]
pub struct Kinds {
    by_id: FxHashMap<Arc<str>, Arc<dyn Process>>,
}

impl std::fmt::Debug for Kinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.by_id.keys().map(|k| &**k).collect();
        ids.sort_unstable();
        f.debug_struct("Kinds").field("ids", &ids).finish()
    }
}

impl Kinds {
    /// An empty set.
    pub fn new() -> Kinds {
        Kinds::default()
    }

    /// Registers `process` under the entry id `id` (`namespace:name`).
    pub fn register(&mut self, id: &str, process: impl Process) -> Result<(), KindError> {
        let valid = id
            .split_once(':')
            .is_some_and(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'));
        if !valid {
            return Err(KindError::InvalidId(id.to_string()));
        }
        if self.by_id.contains_key(id) {
            return Err(KindError::Duplicate(id.to_string()));
        }
        self.by_id.insert(id.into(), Arc::new(process));
        Ok(())
    }

    /// The kind registered under `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Process>> {
        self.by_id.get(id)
    }

    /// True when `id` is a native kind.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Every registered id, sorted.
    pub fn ids(&self) -> Vec<Arc<str>> {
        let mut ids: Vec<Arc<str>> = self.by_id.keys().cloned().collect();
        ids.sort_unstable();
        ids
    }

    /// Number of kinds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no kind is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
