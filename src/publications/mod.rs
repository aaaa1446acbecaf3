//! Newsletters built from editors' items on a schedule.

pub mod markdown;
pub mod render;
