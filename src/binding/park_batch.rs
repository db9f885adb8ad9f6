//! `park()` calls made in one JS turn run as one batch: one tokio task and one wake-up of the
//! JS thread for all of them, instead of one of each per call.
//!
//! A call reads its arguments at once (as every method does) and gets its own promise, but
//! its park is only staged; the first call of a turn queues a microtask (`queueMicrotask`)
//! that spawns everything staged by then as one task. The parks of that task run together
//! (so the queue writer takes them in one round and one fsync), except that parks of the same
//! session run one after another, in call order. When the task is done, one threadsafe call
//! settles every promise of the batch on the JS thread, each with its own result or coded
//! error, exactly as a park of its own would have.
//!
//! Any other async method flushes what is staged before it spawns its own work
//! ([`flush`]), so calls still start in the order they were made: a `get()` or `close()`
//! right after a `park()` in the same turn starts after it, as before (calls in flight
//! together still run concurrently, as they always did).
//!
//! Costs that were per park and are now per batch: the tokio spawn and worker wake-up, the
//! threadsafe function napi makes (and releases) for each promise it settles from tokio, and
//! the JS thread's wake-up to settle it.

use super::convert::to_js_direct;
use super::js::Js;
use crate::engine::{Engine, ParkOutcome, ParkRequest};
use crate::error::EngineResult;
use futures_util::future::join_all;
use napi::{sys, Env, JsError, JsValue};
use serde_json::Value;
use std::cell::RefCell;
use std::ffi::CStr;
use std::ptr;
use std::sync::Arc;

/// One staged park: its engine and arguments.
struct Job {
    engine: Arc<Engine>,
    request: ParkRequest,
}

/// The parks staged on this JS thread (in call order) and their promises' deferreds.
struct Staged {
    env: sys::napi_env,
    jobs: Vec<Job>,
    deferreds: Vec<sys::napi_deferred>,
}

thread_local! {
    /// This JS thread's staged batch, if any.
    static STAGED: RefCell<Option<Staged>> = const { RefCell::new(None) };
}

/// Stage a park of `key` on `engine`; the promise settles with its outcome. The arguments
/// are already read and checked.
pub fn stage(
    env: &Env,
    engine: Arc<Engine>,
    (session_key, input, meta): (String, Value, Value),
) -> napi::Result<sys::napi_value> {
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: `raw` is the live environment of this call.
    let status = unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("could not create a promise"));
    }
    let job = Job {
        engine,
        request: ParkRequest {
            session_key,
            input,
            meta,
            now_ms: None,
        },
    };
    // Another environment's batch on this thread (not seen in Node, where each thread has
    // one) goes first.
    let other_env = STAGED
        .try_with(|s| s.borrow().as_ref().is_some_and(|b| b.env != raw))
        .unwrap_or(false);
    if other_env {
        flush_any();
    }
    let first = STAGED
        .try_with(|s| {
            let mut slot = s.borrow_mut();
            let batch = slot.get_or_insert_with(|| Staged {
                env: raw,
                jobs: Vec::new(),
                deferreds: Vec::new(),
            });
            batch.jobs.push(job);
            batch.deferreds.push(deferred);
            batch.jobs.len() == 1
        })
        .unwrap_or(false);
    if first && !queue_flush(raw) {
        // No microtask could be queued: run what is staged now (unbatched, still correct).
        flush(env);
    }
    Ok(promise)
}

/// Spawn the parks staged on this thread, if any (called before any other async method
/// spawns its work, and by the microtask the first staged park queued).
pub fn flush(env: &Env) {
    let batch = STAGED
        .try_with(|s| {
            let mut slot = s.borrow_mut();
            if slot.as_ref().is_some_and(|b| b.env == env.raw()) {
                slot.take()
            } else {
                None
            }
        })
        .ok()
        .flatten();
    if let Some(batch) = batch {
        spawn(env, batch);
    }
}

/// Spawn whatever is staged on this thread, in its own environment.
fn flush_any() {
    let batch = STAGED.try_with(|s| s.borrow_mut().take()).ok().flatten();
    if let Some(batch) = batch {
        spawn(&Env::from_raw(batch.env), batch);
    }
}

/// The microtask's callback: flush this thread's batch.
unsafe extern "C" fn flush_cb(
    env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| flush(&Env::from_raw(env))));
    ptr::null_mut()
}

/// `queueMicrotask(flush_cb)`; whether it was queued (a throw, e.g. from a replaced
/// `queueMicrotask`, is cleared and reads as `false`).
fn queue_flush(env: sys::napi_env) -> bool {
    const NAME: &CStr = c"flushParks";
    let js = Js::new(env);
    let mut func = ptr::null_mut();
    // SAFETY: `env` is the live environment of this call; the name is NUL-terminated.
    let made = unsafe {
        sys::napi_create_function(
            env,
            NAME.as_ptr(),
            NAME.count_bytes() as isize,
            Some(flush_cb),
            ptr::null_mut(),
            &mut func,
        )
    } == sys::Status::napi_ok;
    made && js
        .global()
        .and_then(|global| Some((global, js.method(global, c"queueMicrotask")?)))
        .and_then(|(global, queue)| js.call(global, queue, &[func]))
        .is_some()
}

/// Run `batch` as one tokio task and settle its promises from one JS callback.
fn spawn(env: &Env, batch: Staged) {
    let Staged {
        jobs, deferreds, ..
    } = batch;
    let held = std::rc::Rc::new(RefCell::new(Some(deferreds)));
    let in_callback = held.clone();
    let spawned = env.spawn_future_with_callback(
        async move {
            let results = run(jobs).await;
            // Serialized here, on tokio, so the JS thread only parses.
            let json = outcomes_json(&results);
            Ok((results, json))
        },
        move |env, (results, json): (Vec<EngineResult<ParkOutcome>>, Option<String>)| {
            if let Some(deferreds) = in_callback.borrow_mut().take() {
                settle_all(env, deferreds, results, json.as_deref());
            }
            Ok(())
        },
    );
    if let Err(e) = spawned {
        // As napi's own path would fail such a call (its generic failure, no engine code).
        let message = e.reason.clone();
        if let Some(deferreds) = held.borrow_mut().take() {
            for deferred in deferreds {
                let error = JsError::from(napi::Error::from_reason(message.clone()));
                // SAFETY: each deferred is settled exactly once, on its own JS thread.
                unsafe {
                    sys::napi_reject_deferred(env.raw(), deferred, error.into_value(env.raw()))
                };
            }
        }
    }
}

/// The successful outcomes of `results` as one JSON array (`None` if it cannot be made).
fn outcomes_json(results: &[EngineResult<ParkOutcome>]) -> Option<String> {
    let outcomes: Vec<&ParkOutcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    serde_json::to_string(&outcomes).ok()
}

/// Settle the promises of a batch with their results, in order. The successful outcomes
/// come to JS as one JSON array (`json`, see [`outcomes_json`]) for `JSON.parse` (setting
/// each field from native code costs several times more; the outcomes have no `u64`, NaN or
/// infinity, so JSON keeps every value); if that cannot be done, each is converted on its own.
fn settle_all(
    env: &Env,
    deferreds: Vec<sys::napi_deferred>,
    results: Vec<EngineResult<ParkOutcome>>,
    json: Option<&str>,
) {
    let raw = env.raw();
    let ok_count = results.iter().filter(|r| r.is_ok()).count();
    let parsed = json.and_then(|json| parse_outcomes(env, json, ok_count));
    let mut next_outcome = 0;
    for (deferred, result) in deferreds.into_iter().zip(results) {
        let value = match (&result, parsed) {
            (Ok(_), Some(array)) => {
                let v = Js::new(raw).element(array, next_outcome);
                next_outcome += 1;
                v.ok_or_else(|| napi::Error::from_reason("could not read a park outcome"))
            }
            _ => to_js_direct(env, result).map(|v| v.raw()),
        };
        match value {
            // SAFETY: `deferred` is settled exactly once, here.
            Ok(v) => unsafe {
                sys::napi_resolve_deferred(raw, deferred, v);
            },
            // SAFETY: as above; the error value is made in this env.
            Err(e) => unsafe {
                sys::napi_reject_deferred(raw, deferred, JsError::from(e).into_value(raw));
            },
        }
    }
}

/// `JSON.parse` of `json`, an array of `count` outcomes (`None` if anything fails: the
/// caller converts them one by one then).
fn parse_outcomes(env: &Env, json: &str, count: usize) -> Option<sys::napi_value> {
    let js = Js::new(env.raw());
    let global = js.global()?;
    let json_object = js.get(global, c"JSON")?;
    let parse = js.method(json_object, c"parse")?;
    let text = js.create_string(json)?;
    let array = js.call(json_object, parse, &[text])?;
    (js.array_len(array)? as usize == count).then_some(array)
}

/// Run the parks of a batch, each engine's together ([`Engine::park_all`]); the results
/// in call order.
async fn run(jobs: Vec<Job>) -> Vec<EngineResult<ParkOutcome>> {
    let mut groups: Vec<(Arc<Engine>, Vec<usize>, Vec<ParkRequest>)> = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let at = match groups
            .iter()
            .position(|(e, ..)| Arc::ptr_eq(e, &job.engine))
        {
            Some(at) => at,
            None => {
                groups.push((job.engine.clone(), Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        groups[at].1.push(i);
        groups[at].2.push(job.request);
    }
    let done = join_all(
        groups
            .into_iter()
            .map(|(engine, places, requests)| async move {
                let results = engine.park_all(requests).await;
                places.into_iter().zip(results).collect::<Vec<_>>()
            }),
    )
    .await;
    let mut results: Vec<_> = done.into_iter().flatten().collect();
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
