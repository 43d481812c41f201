//! Integration tests of the configuration steps of `actsim setup` (part 2).
