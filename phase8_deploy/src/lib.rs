//! phase8_deploy.
