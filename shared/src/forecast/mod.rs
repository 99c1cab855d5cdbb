//! Forecasting and analysis on a dataset's own time axis.

pub mod analysis;
pub mod engine;
pub mod frequency;
pub mod metrics;
pub mod models;
pub mod series;
