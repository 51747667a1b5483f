//! phase6_router.
