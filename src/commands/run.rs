//! `actsim run` from the command line (see [`super`]).
