//! Domain types that parse: invalid ids, names or CSV content can't be constructed.

pub mod analysis;
pub mod csv_table;
pub mod dataset;
pub mod error;
pub mod export;
pub mod forecast;
pub mod formula;
pub mod ids;
pub mod text;

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
