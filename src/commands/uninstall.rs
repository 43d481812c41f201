//! `actsim uninstall` from the command line (see [`super`]).
