//! Forecasting and analysis on a dataset's own time axis.

pub mod frequency;
pub mod metrics;
pub mod series;
