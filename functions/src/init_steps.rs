//! Where a cold start's time goes: each start-up step's duration, logged with the `ready`
//! line, so the breakdown is in every function's logs and the cold-start harness reads it.

use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct InitSteps {
    last: Instant,
    steps: Vec<(&'static str, Duration)>,
}

impl InitSteps {
    pub fn new() -> Self {
        Self { last: Instant::now(), steps: Vec::with_capacity(6) }
    }

    /// Records `step` as the time since the previous one ended.
    pub fn done(&mut self, step: &'static str) {
        let now = Instant::now();
        self.steps.push((step, now - self.last));
        self.last = now;
    }
}

/// `runtime=41us settings=9us …`: microseconds per step, in the order they ran.
impl fmt::Display for InitSteps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (step, took)) in self.steps.iter().enumerate() {
            let separator = if i == 0 { "" } else { " " };
            write!(f, "{separator}{step}={}us", took.as_micros())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_is_the_time_since_the_previous_one() {
        let mut steps = InitSteps::new();
        std::thread::sleep(Duration::from_millis(3));
        steps.done("first");
        steps.done("second");
        assert_eq!(steps.steps.len(), 2);
        assert!(steps.steps[0].1 >= Duration::from_millis(3));
        assert!(steps.steps[1].1 < Duration::from_millis(3));
        let shown = steps.to_string();
        let (first, second) = shown.split_once(' ').unwrap_or_default();
        assert!(first.starts_with("first=") && first.ends_with("us"), "{shown}");
        assert!(second.starts_with("second=") && second.ends_with("us"), "{shown}");
        assert!(first.trim_start_matches("first=").trim_end_matches("us").parse::<u64>().is_ok_and(|us| us >= 3000), "{shown}");
    }
}
