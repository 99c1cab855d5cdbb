//! Domain types that parse: invalid ids, names or CSV content can't be constructed.

pub mod analysis;
pub mod csv_table;
pub mod dataset;
pub mod export;
pub mod forecast;
pub mod formula;
pub mod ids;
pub mod text;
