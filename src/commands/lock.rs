//! `actsim lock` from the command line (see [`super`]).
