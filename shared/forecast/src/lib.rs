//! Forecasting and analysis on a dataset's own time axis: series extraction, frequency
//! inference, the models (via augurs), backtest metrics and the analyses. Pure numeric
//! code with its own errors; it knows nothing of HTTP, storage or who is asking.

pub mod analysis;
pub mod engine;
pub mod frequency;
pub mod metrics;
pub mod models;
pub mod series;

/// The first item that repeats an earlier one, for lists whose items must be distinct.
pub fn first_repeat<T: PartialEq>(items: &[T]) -> Option<&T> {
    items.iter().enumerate().find(|(i, item)| items[..*i].contains(item)).map(|(_, item)| item)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_repeat_is_the_second_sighting_of_the_earliest_repeated_value() {
        assert_eq!(super::first_repeat(&["a", "b", "c", "b", "a"]), Some(&"b"));
        assert_eq!(super::first_repeat(&[1, 2, 3]), None);
        assert_eq!(super::first_repeat::<u8>(&[]), None);
    }
}
