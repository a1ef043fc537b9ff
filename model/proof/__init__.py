"""Z3 proofs over the transition table."""
