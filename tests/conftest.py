"""Test-wide settings: Hypothesis keeps no example database in the repository, and the
shared, noisy machines CI runs on get no deadline and no too-slow health check."""

from hypothesis import HealthCheck, settings

settings.register_profile("ckspec", database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ckspec")


def pytest_configure(config):
    """The session's temporary folders live in a folder of their own, outside pytest's shared
    /tmp/pytest-of-USER, where each new pytest session (a test may start one) deletes all but the
    newest three: a long run's folders, and the working directory of a test in them, went with them."""
    import tempfile

    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="ckspec-tests-")
