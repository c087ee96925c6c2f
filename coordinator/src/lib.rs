//! forgebench coordinator: scheduling, the durable ledger and aggregation. Never links libtorch.
