"""The conformance engine (a later issue): drives an implementation through an adapter and
checks every observation against the model."""
