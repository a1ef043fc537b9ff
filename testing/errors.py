"""The errors the testing kit raises: one line each, naming the rule and saying why."""

from __future__ import annotations


class KitError(Exception):
    """The testing kit cannot do what was asked (the message names the rule where one applies)."""


class EventNotPossible(KitError):
    """An environment event was refused by the model in the account's current state (its guard
    does not hold): for example logging kmsuser in while a key store holds its session (KU-05)."""
