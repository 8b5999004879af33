//! Multi-node end-to-end tests and fault simulations live here once the node exists.
//! The protocol-level simulation lives in `protocol/tests/simulation.rs`, next to the engine it
//! exercises.
