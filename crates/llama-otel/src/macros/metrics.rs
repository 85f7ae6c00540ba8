//! Metric macros (`counter_add!`, `updown_add!`, `histogram_record!`, `gauge_set!`,
//! `time_histogram!`), each defined once per feature mode.

#[cfg(feature = "otel")]
#[doc = include_str!("docs/counter_add.md")]
#[macro_export]
macro_rules! counter_add {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_counter_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/counter_add.md")]
#[macro_export]
macro_rules! counter_add {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_counter_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/updown_add.md")]
#[macro_export]
macro_rules! updown_add {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_updown_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/updown_add.md")]
#[macro_export]
macro_rules! updown_add {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_updown_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/gauge_set.md")]
#[macro_export]
macro_rules! gauge_set {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_gauge_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/gauge_set.md")]
#[macro_export]
macro_rules! gauge_set {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_gauge_finish { $name, $value } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/histogram_record.md")]
#[macro_export]
macro_rules! histogram_record {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_histogram_finish { $name, $value, new } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/histogram_record.md")]
#[macro_export]
macro_rules! histogram_record {
    ($name:expr, $value:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_histogram_finish { $name, $value, new } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/time_histogram.md")]
#[macro_export]
macro_rules! time_histogram {
    ($name:expr, $body:block $(, $($args:tt)*)?) => {{
        let __llama_otel_start = $crate::__private::now_if_active();
        let __llama_otel_result = $body;
        if let ::core::option::Option::Some(__llama_otel_start) = __llama_otel_start {
            let __llama_otel_secs = __llama_otel_start.elapsed().as_secs_f64();
            $crate::__otel_args!(__otel_histogram_finish
                { $name, __llama_otel_secs, seconds } [] [] $($($args)*)?);
        }
        __llama_otel_result
    }};
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/time_histogram.md")]
#[macro_export]
macro_rules! time_histogram {
    ($name:expr, $body:block $(, $($args:tt)*)?) => {{
        $crate::__otel_args!(__otel_histogram_finish { $name, 0.0, seconds } [] [] $($($args)*)?);
        $body
    }};
}

/// Shared body of the counter/up-down/gauge finishers: `$value` must have type `$ty`, the
/// instrument is built by `InstrumentOptions::$ctor` and fed by `.$op(value, attrs)`.
#[cfg(feature = "otel")]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_record {
    ($inst:ty, $ctor:ident, $op:ident, $ty:ty, $opts_ty:ident, $opts_new:ident,
     { $name:expr, $value:expr } [$(($opt:ident; $oval:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if $crate::__private::active() {
            static __LLAMA_OTEL_INSTRUMENT: $crate::__private::InstrumentCell<$inst> =
                $crate::__private::InstrumentCell::new();
            let __llama_otel_value: $ty = $value;
            __LLAMA_OTEL_INSTRUMENT
                .get($name, |__llama_otel_meter| {
                    #[allow(unused_mut)]
                    let mut __llama_otel_opts = $crate::__private::$opts_ty::$opts_new();
                    $( __llama_otel_opts.$opt($oval); )*
                    __llama_otel_opts.$ctor(__llama_otel_meter, $name)
                })
                .$op(__llama_otel_value, &[$($crate::__private::kv($key, $val)),*]);
        }
    }};
}

/// Type-checks a metric call without evaluating anything.
#[cfg(not(feature = "otel"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_record {
    ($inst:ty, $ctor:ident, $op:ident, $ty:ty, $opts_ty:ident, $opts_new:ident,
     { $name:expr, $value:expr } [$(($opt:ident; $oval:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if false {
            let _: &'static str = $name;
            let _: $ty = $value;
            #[allow(unused_mut)]
            let mut __llama_otel_opts = $crate::__private::$opts_ty::$opts_new();
            $( __llama_otel_opts.$opt($oval); )*
            $( $crate::__private::check_attr($key, $val); )*
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __otel_counter_finish {
    ($($t:tt)*) => {
        $crate::__otel_record!($crate::__private::Counter<u64>, u64_counter, add, u64,
            InstrumentOptions, new, $($t)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __otel_updown_finish {
    ($($t:tt)*) => {
        $crate::__otel_record!($crate::__private::UpDownCounter<i64>, i64_up_down_counter, add,
            i64, InstrumentOptions, new, $($t)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __otel_gauge_finish {
    ($($t:tt)*) => {
        $crate::__otel_record!($crate::__private::Gauge<f64>, f64_gauge, record, f64,
            InstrumentOptions, new, $($t)*)
    };
}

/// Histograms: the `exemplar:` option is split from the instrument options (those apply once,
/// when the instrument is created; the exemplar span is read on every call).
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_histogram_finish {
    ($fixed:tt [$($opts:tt)*] $attrs:tt) => {
        $crate::__otel_histogram_split!($fixed [] [] [$($opts)*] $attrs)
    };
}

/// Moves `(exemplar; span)` options to their own list, keeping the others in order.
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_histogram_split {
    ($fixed:tt [$($kept:tt)*] [$($ex:tt)*] [(exemplar; $v:expr) $($rest:tt)*] $attrs:tt) => {
        $crate::__otel_histogram_split!($fixed [$($kept)*] [$($ex)* ($v)] [$($rest)*] $attrs)
    };
    ($fixed:tt [$($kept:tt)*] $ex:tt [($o:ident; $v:expr) $($rest:tt)*] $attrs:tt) => {
        $crate::__otel_histogram_split!($fixed [$($kept)* ($o; $v)] $ex [$($rest)*] $attrs)
    };
    ($fixed:tt $kept:tt $ex:tt [] $attrs:tt) => {
        $crate::__otel_histogram_record!($fixed $kept $ex $attrs)
    };
}

/// Records into the call site's histogram and offers the measurement to its instrument's
/// exemplar reservoir (used only when the span is sampled).
#[cfg(feature = "otel")]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_histogram_record {
    ({ $name:expr, $value:expr, $opts_new:ident } [$(($opt:ident; $oval:expr))*]
     [$(($ex:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if $crate::__private::active() {
            static __LLAMA_OTEL_INSTRUMENT: $crate::__private::InstrumentCell<
                $crate::__private::ExemplarHistogram,
            > = $crate::__private::InstrumentCell::new();
            let __llama_otel_value: f64 = $value;
            let __llama_otel_from = $crate::__private::ExemplarFrom::default()
                $( .explicit($ex) )*;
            __LLAMA_OTEL_INSTRUMENT
                .get($name, |__llama_otel_meter| {
                    #[allow(unused_mut)]
                    let mut __llama_otel_opts = $crate::__private::HistogramOptions::$opts_new();
                    $( __llama_otel_opts.$opt($oval); )*
                    __llama_otel_opts.exemplar_histogram(__llama_otel_meter, $name)
                })
                .record(
                    __llama_otel_value,
                    &[$($crate::__private::kv($key, $val)),*],
                    __llama_otel_from,
                );
        }
    }};
}

/// Type-checks a histogram call without evaluating anything.
#[cfg(not(feature = "otel"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_histogram_record {
    ({ $name:expr, $value:expr, $opts_new:ident } [$(($opt:ident; $oval:expr))*]
     [$(($ex:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if false {
            let _: &'static str = $name;
            let _: f64 = $value;
            #[allow(unused_mut)]
            let mut __llama_otel_opts = $crate::__private::HistogramOptions::$opts_new();
            $( __llama_otel_opts.$opt($oval); )*
            $( $crate::__private::check_exemplar($ex); )*
            $( $crate::__private::check_attr($key, $val); )*
        }
    }};
}
