// Nothing to import: CRBDLoader defines librados' and librbd's functions themselves (see
// RBDLoader.c); TetherRBD calls them through CRBD's declarations.
