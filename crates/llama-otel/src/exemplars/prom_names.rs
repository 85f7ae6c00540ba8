//! How opentelemetry-prometheus 0.33 names an instrument's family and its labels (its
//! `sanitize_name`, `get_unit_suffixes` and `sanitize_prom_kv` are private), so the exemplars
//! kept under OpenTelemetry names find their Prometheus series. A unit test compares these
//! with the exporter's real output, so a change upstream fails the build's tests.

/// The family name of a histogram or gauge instrument (counters add `_total`).
pub(crate) fn family_name(name: &str, unit: &str) -> String {
    let base = sanitize_name(name);
    match unit_suffix(unit) {
        Some(suffix) => format!("{base}_{suffix}"),
        None => base,
    }
}

/// A label name from an attribute key: everything but ASCII alphanumerics and `:` becomes `_`.
pub(crate) fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == ':' {
            true => c,
            false => '_',
        })
        .collect()
}

fn sanitize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    // The exporter keeps the valid prefix as is (non-ASCII alphanumerics included) and
    // replaces from the first invalid character on.
    let first_bad = name
        .char_indices()
        .find(|&(i, c)| {
            (i == 0 && c.is_ascii_digit()) || !(c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map_or(name.len(), |(i, _)| i);
    let (valid, rest) = name.split_at(first_bad);
    out.push_str(valid);
    out.extend(rest.chars().map(
        |c| match c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            true => c,
            false => '_',
        },
    ));
    out
}

fn unit_suffix(unit: &str) -> Option<String> {
    if unit.is_empty() {
        return None;
    }
    if let Some(u) = prom_unit(unit) {
        return Some(u.to_owned());
    }
    let (first, second) = unit.split_once('/')?;
    let per = prom_per_unit(second)?;
    // Time units and `1` before the slash are dropped: "s/s" is "per_second".
    let dropped = ["1", "d", "h", "min", "s", "ms", "us", "ns"].contains(&first);
    match (dropped, prom_unit(first)) {
        (false, Some(f)) => Some(format!("{f}_per_{per}")),
        _ => Some(format!("per_{per}")),
    }
}

fn prom_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" | "B" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" | "KB" => "kilobytes",
        "MBy" | "MB" => "megabytes",
        "GBy" | "GB" => "gigabytes",
        "TBy" | "TB" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "ratio",
        "%" => "percent",
        _ => return None,
    })
}

fn prom_per_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}
