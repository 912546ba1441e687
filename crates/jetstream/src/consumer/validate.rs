//! Consumer configuration decoding, defaults, validation and update rules.
