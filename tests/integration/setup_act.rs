//! Integration tests of the act step of `actsim setup` (part 1).
