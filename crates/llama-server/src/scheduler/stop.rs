//! Stop strings over streamed text: never release text past a stop string, and hold back a
//! tail that could still become one (llama.cpp's partial-stop handling).

/// Result of pushing newly decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Text safe to send now (possibly empty).
    Continue(String),
    /// A stop string matched: send `release`, then finish; the stop string itself is dropped.
    Stopped { release: String, word: String },
}

/// Tracks the not-yet-released tail of the generated text.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    /// Empty stop strings are ignored.
    pub fn new(stops: &[String]) -> Self {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Adds text; returns what may be released.
    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.pending.push_str(text);
        if self.stops.is_empty() {
            return StopOutcome::Continue(std::mem::take(&mut self.pending));
        }
        if let Some((at, word)) = self.earliest_full_match() {
            self.pending.truncate(at);
            return StopOutcome::Stopped {
                release: std::mem::take(&mut self.pending),
                word,
            };
        }
        let hold = self.partial_match_start();
        let rest = self.pending.split_off(hold);
        StopOutcome::Continue(std::mem::replace(&mut self.pending, rest))
    }

    /// Releases whatever is held back (generation ended without completing a stop string).
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    fn earliest_full_match(&self) -> Option<(usize, String)> {
        self.stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|&(at, _)| at)
            .map(|(at, s)| (at, s.clone()))
    }

    /// Byte offset where the longest tail of `pending` that is a proper prefix of a stop
    /// string begins (`pending.len()` when there is none).
    fn partial_match_start(&self) -> usize {
        let text = self.pending.as_str();
        let longest = self
            .stops
            .iter()
            .filter_map(|stop| {
                let max = (stop.len() - 1).min(text.len());
                (1..=max)
                    .rev()
                    .find(|&k| stop.is_char_boundary(k) && text.ends_with(&stop[..k]))
            })
            .max()
            .unwrap_or(0);
        text.len() - longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(stops: &[&str]) -> StopMatcher {
        StopMatcher::new(&stops.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn cont(s: &str) -> StopOutcome {
        StopOutcome::Continue(s.into())
    }

    #[test]
    fn without_stops_everything_passes() {
        let mut m = matcher(&[]);
        assert_eq!(m.push("Hello"), cont("Hello"));
        assert_eq!(m.flush(), "");
    }

    #[test]
    fn partial_match_is_held_then_released_when_it_diverges() {
        let mut m = matcher(&["\n\nUser:"]);
        assert_eq!(m.push("Hi\n"), cont("Hi"));
        assert_eq!(m.push("\nUs"), cont(""));
        assert_eq!(m.push("ually"), cont("\n\nUsually"));
    }

    #[test]
    fn full_match_across_tokens_truncates_before_the_stop() {
        let mut m = matcher(&["END"]);
        assert_eq!(m.push("abc E"), cont("abc "));
        assert_eq!(m.push("N"), cont(""));
        assert_eq!(
            m.push("D tail"),
            StopOutcome::Stopped {
                release: String::new(),
                word: "END".into()
            }
        );
    }

    #[test]
    fn match_inside_one_piece_drops_the_rest() {
        let mut m = matcher(&["4."]);
        assert_eq!(
            m.push("is 4. Yes"),
            StopOutcome::Stopped {
                release: "is ".into(),
                word: "4.".into()
            }
        );
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut m = matcher(&["world", "lo w"]);
        assert_eq!(
            m.push("hello world"),
            StopOutcome::Stopped {
                release: "hel".into(),
                word: "lo w".into()
            }
        );
    }

    #[test]
    fn flush_returns_held_text() {
        let mut m = matcher(&["###"]);
        assert_eq!(m.push("a#"), cont("a"));
        assert_eq!(m.flush(), "#");
    }

    #[test]
    fn multibyte_stops_respect_char_boundaries() {
        let mut m = matcher(&["é!", ""]);
        assert_eq!(m.push("café"), cont("caf"));
        assert_eq!(m.push("?"), cont("é?"));
        assert_eq!(
            m.push("é!"),
            StopOutcome::Stopped {
                release: String::new(),
                word: "é!".into()
            }
        );
    }
}
