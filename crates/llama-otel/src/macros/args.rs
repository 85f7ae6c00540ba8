//! Shared argument parser of the macros: splits `opt: value` options from `key = value`
//! attributes and hands both lists to a finishing macro. Identical in both feature modes.

/// Parses the trailing arguments of a macro. Input:
/// `$finish { fixed args } [options so far] [attributes so far] rest...`.
/// Options become `(name; value)`, attributes `(key; value)` with `key: &'static str`.
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_args {
    ($finish:ident $fixed:tt [$($opts:tt)*] [$($attrs:tt)*]) => {
        $crate::$finish!($fixed [$($opts)*] [$($attrs)*])
    };
    ($finish:ident $fixed:tt [$($opts:tt)*] [$($attrs:tt)*]
        $opt:ident : $val:expr $(, $($rest:tt)*)?) => {
        $crate::__otel_args!($finish $fixed [$($opts)* ($opt; $val)] [$($attrs)*] $($($rest)*)?)
    };
    ($finish:ident $fixed:tt [$($opts:tt)*] [$($attrs:tt)*]
        $key:literal = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__otel_args!($finish $fixed [$($opts)*] [$($attrs)* ($key; $val)] $($($rest)*)?)
    };
    ($finish:ident $fixed:tt [$($opts:tt)*] [$($attrs:tt)*]
        $key:ident = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__otel_args!($finish $fixed [$($opts)*]
            [$($attrs)* (::core::stringify!($key); $val)] $($($rest)*)?)
    };
    ($finish:ident $fixed:tt [$($opts:tt)*] [$($attrs:tt)*]
        [$key:expr] = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__otel_args!($finish $fixed [$($opts)*] [$($attrs)* ($key; $val)] $($($rest)*)?)
    };
    ($finish:ident $fixed:tt $opts:tt $attrs:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "llama_otel: expected `option: value`, `\"key\" = value`, `ident = value` or ",
            "`[KEY_CONST] = value`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
}

/// Applies one `span!` option to the options builder; `kind:` accepts bare variant names.
#[doc(hidden)]
#[macro_export]
macro_rules! __otel_span_opt {
    ($opts:ident, kind, $val:expr) => {
        $opts.kind({
            #[allow(unused_imports)]
            use $crate::SpanKind::*;
            $val
        })
    };
    ($opts:ident, $opt:ident, $val:expr) => {
        $opts.$opt($val)
    };
}
