//! `actsim setup` from the command line (see [`super`]).
