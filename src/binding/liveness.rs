//! Whether an engine keeps Node alive, the `net.Server` way: from `start()` until `close()`
//! a started engine holds the event loop (its scheduler may have a session due in an hour),
//! unless `unref()` opted out; callbacks alone never hold it, and a never-started engine never
//! does. While started, the JS object is also pinned so that garbage collection cannot stop
//! the scheduler of an engine the script dropped without closing (nothing depends on GC).

use napi::bindgen_prelude::{Function, Object, ObjectRef};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};

/// A threadsafe function that is never called: only its ref count matters.
type Handle = ThreadsafeFunction<(), (), (), Status, false, true>;

/// The keep-alive handle of one engine. JS thread only.
pub struct Liveness {
    handle: Handle,
    /// The engine's JS object while started (keeps it from being collected).
    pinned: Option<ObjectRef<false>>,
    started: bool,
    /// `ref()` (default) or `unref()`.
    wanted: bool,
}

impl Liveness {
    /// An idle engine's handle: not holding the loop.
    pub fn new(env: &Env) -> napi::Result<Self> {
        let noop: Function<'_, (), ()> =
            env.create_function_from_closure("retryEngineKeepAlive", |_| Ok(()))?;
        let handle = noop
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|_| Ok(()))?;
        Ok(Self {
            handle,
            pinned: None,
            started: false,
            wanted: true,
        })
    }

    /// `start()` was called on `this`: hold the loop (unless unref'd) and pin the object.
    pub fn started(&mut self, env: &Env, this: &Object<'_>) -> napi::Result<()> {
        if self.pinned.is_none() {
            self.pinned = Some(this.create_ref::<false>()?);
        }
        self.started = true;
        self.apply(env)
    }

    /// `start()` failed or `close()` finished: let go of the loop and the object.
    pub fn stopped(&mut self, env: &Env) -> napi::Result<()> {
        self.started = false;
        if let Some(pinned) = self.pinned.take() {
            pinned.unref(env)?;
        }
        self.apply(env)
    }

    /// `ref()` / `unref()`.
    pub fn set_wanted(&mut self, env: &Env, wanted: bool) -> napi::Result<()> {
        self.wanted = wanted;
        self.apply(env)
    }

    /// Whether `start()` was called and `close()` has not finished.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Whether the engine currently holds the event loop.
    pub fn holds_loop(&self) -> bool {
        self.started && self.wanted
    }

    #[allow(deprecated)] // napi-rs keeps ref/unref of a threadsafe function under this name
    fn apply(&mut self, env: &Env) -> napi::Result<()> {
        if self.holds_loop() {
            self.handle.refer(env)
        } else {
            self.handle.unref(env)
        }
    }
}
