//! `actsim doctor` from the command line (see [`super`]).
