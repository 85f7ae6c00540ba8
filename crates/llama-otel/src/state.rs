//! Process-wide telemetry state (otel builds): what `init()` installed and the macros read.
//!
//! Call sites check [`is_active`] (one atomic load) before evaluating any argument. Cached
//! instruments carry the [`generation`] they were created in; `init()` and guard drop bump it,
//! so an instrument created before `init()` (bound to the no-op provider) is recreated on its
//! next use instead of silently recording into nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use opentelemetry::metrics::Meter;
use opentelemetry_sdk::trace::SdkTracer;

use crate::error::{Error, Result};

/// What the macros need from an initialised SDK.
pub(crate) struct Active {
    pub tracer: SdkTracer,
    pub meter: Meter,
    pub registry: Option<prometheus::Registry>,
}

static ACTIVE_FLAG: AtomicBool = AtomicBool::new(false);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static ACTIVE: RwLock<Option<Arc<Active>>> = RwLock::new(None);
/// Held from the start of `init()` until the guard is gone: one SDK at a time.
static OCCUPIED: Mutex<bool> = Mutex::new(false);

/// Serialises tests (unit tests and the `testing` helpers) that install an SDK.
#[cfg(any(test, feature = "testing"))]
pub(crate) static TEST_SERIAL: Mutex<()> = Mutex::new(());

/// Claim on the single SDK slot; released on drop unless the guard takes it over.
pub(crate) struct Reservation {
    committed: bool,
}

impl Reservation {
    pub(crate) fn acquire() -> Result<Self> {
        let mut occupied = OCCUPIED.lock().unwrap_or_else(PoisonError::into_inner);
        if *occupied {
            return Err(Error::AlreadyInitialized);
        }
        *occupied = true;
        Ok(Reservation { committed: false })
    }

    /// Publishes the SDK to the macros; the slot stays taken until [`uninstall`].
    pub(crate) fn install(mut self, active: Active) {
        *ACTIVE.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(active));
        GENERATION.fetch_add(1, Ordering::AcqRel);
        ACTIVE_FLAG.store(true, Ordering::Release);
        self.committed = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            *OCCUPIED.lock().unwrap_or_else(PoisonError::into_inner) = false;
        }
    }
}

/// Stops the macros from using the SDK and frees the slot for another `init()`.
pub(crate) fn uninstall() {
    ACTIVE_FLAG.store(false, Ordering::Release);
    ACTIVE
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    GENERATION.fetch_add(1, Ordering::AcqRel);
    *OCCUPIED.lock().unwrap_or_else(PoisonError::into_inner) = false;
}

/// True between a successful `init()` and the drop of its guard.
#[inline]
pub fn is_active() -> bool {
    ACTIVE_FLAG.load(Ordering::Acquire)
}

/// Bumped on every install/uninstall; instruments tagged with an older value are rebuilt.
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

fn current() -> Option<Arc<Active>> {
    ACTIVE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

pub(crate) fn tracer() -> Option<SdkTracer> {
    current().map(|a| a.tracer.clone())
}

/// The SDK's meter, or the global (normally no-op) one when nothing is installed.
pub(crate) fn meter() -> Meter {
    match current() {
        Some(a) => a.meter.clone(),
        None => opentelemetry::global::meter("llama-otel"),
    }
}

pub(crate) fn registry() -> Option<prometheus::Registry> {
    current().and_then(|a| a.registry.clone())
}
