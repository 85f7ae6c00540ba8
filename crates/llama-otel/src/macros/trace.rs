//! `span!`, `set_attr!` and `event!`, each defined once per feature mode.

#[cfg(feature = "otel")]
#[doc = include_str!("docs/span.md")]
#[macro_export]
macro_rules! span {
    ($name:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_span_finish { $name } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/span.md")]
#[macro_export]
macro_rules! span {
    ($name:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_span_finish { $name } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_span_finish {
    ({ $name:expr } [$(($opt:ident; $oval:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if $crate::__private::active() {
            #[allow(unused_mut)]
            let mut __llama_otel_opts = $crate::__private::SpanOptions::new();
            $( $crate::__otel_span_opt!(__llama_otel_opts, $opt, $oval); )*
            __llama_otel_opts.start(
                $name,
                ::std::vec![$($crate::__private::kv($key, $val)),*],
            )
        } else {
            $crate::SpanGuard::noop()
        }
    }};
}

#[cfg(not(feature = "otel"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_span_finish {
    ({ $name:expr } [$(($opt:ident; $oval:expr))*] [$(($key:expr; $val:expr))*]) => {{
        if false {
            #[allow(unused_mut)]
            let mut __llama_otel_opts = $crate::__private::SpanOptions::new();
            $( $crate::__otel_span_opt!(__llama_otel_opts, $opt, $oval); )*
            $crate::__private::check_name($name);
            $( $crate::__private::check_attr($key, $val); )*
        }
        $crate::SpanGuard::noop()
    }};
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/set_attr.md")]
#[macro_export]
macro_rules! set_attr {
    ($guard:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_set_attr_finish { $guard } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/set_attr.md")]
#[macro_export]
macro_rules! set_attr {
    ($guard:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_set_attr_finish { $guard } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_set_attr_finish {
    ({ $guard:expr } [] [$(($key:expr; $val:expr))*]) => {{
        let __llama_otel_guard: &$crate::SpanGuard = &$guard;
        if __llama_otel_guard.is_recording() {
            __llama_otel_guard
                .__set_attributes(::std::vec![$($crate::__private::kv($key, $val)),*]);
        }
    }};
}

#[cfg(not(feature = "otel"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_set_attr_finish {
    ({ $guard:expr } [] [$(($key:expr; $val:expr))*]) => {{
        if false {
            let _: &$crate::SpanGuard = &$guard;
            $( $crate::__private::check_attr($key, $val); )*
        }
    }};
}

#[cfg(feature = "otel")]
#[doc = include_str!("docs/event.md")]
#[macro_export]
macro_rules! event {
    ($guard:expr, $name:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_event_finish { $guard, $name } [] [] $($($args)*)?)
    };
}

#[cfg(not(feature = "otel"))]
#[doc = include_str!("docs/event.md")]
#[macro_export]
macro_rules! event {
    ($guard:expr, $name:expr $(, $($args:tt)*)?) => {
        $crate::__otel_args!(__otel_event_finish { $guard, $name } [] [] $($($args)*)?)
    };
}

#[cfg(feature = "otel")]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_event_finish {
    ({ $guard:expr, $name:expr } [] [$(($key:expr; $val:expr))*]) => {{
        let __llama_otel_guard: &$crate::SpanGuard = &$guard;
        if __llama_otel_guard.is_recording() {
            __llama_otel_guard
                .__add_event($name, ::std::vec![$($crate::__private::kv($key, $val)),*]);
        }
    }};
}

#[cfg(not(feature = "otel"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_event_finish {
    ({ $guard:expr, $name:expr } [] [$(($key:expr; $val:expr))*]) => {{
        if false {
            let _: &$crate::SpanGuard = &$guard;
            $crate::__private::check_name($name);
            $( $crate::__private::check_attr($key, $val); )*
        }
    }};
}
