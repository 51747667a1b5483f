//! The crate's error type.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit together.
    #[error("shape: {0}")]
    Shape(String),
    /// The dampened Hessian is not positive definite (at this pivot): too few calibration tokens
    /// or a degenerate layer input; raise the dampening.
    #[error(
        "the dampened Hessian is not positive definite (pivot {0}); raise --percdamp or add calibration data"
    )]
    NotPositiveDefinite(usize),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
