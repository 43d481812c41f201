//! A loopback HTTP server in GitHub release layout, with fault modes.
