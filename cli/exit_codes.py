"""The exit codes of every ``ckspec`` subcommand, in one place.

A CI gate reads them: each code means one thing whichever subcommand returns it.

====  ==============  ==========================================================================
code  name            meaning
====  ==============  ==========================================================================
0     OK              the job succeeded: conformant, conforms, every property as expected
1     FAILED          the job's answer is "no": non-conformant, does not conform, a property or
                      a seeded bug not as expected, something that could not be removed
2     USAGE           bad input: flags or values, a file that is not what it should be, an
                      output that cannot be written, an adapter that breaks the interface
3     UNREACHABLE     the target cannot be reached or started, or stopped answering (a call
                      past ``--call-timeout``, transport faults in a row)
4     INCONCLUSIVE    no verdict: polling ran out, the core lifecycle is unsupported, every
                      example was abandoned after a transport fault
70    INTERNAL        a bug in ckspec itself (``EX_SOFTWARE``); set CKSPEC_DEBUG=1 for the traceback
130   INTERRUPTED     stopped by Ctrl-C
====  ==============  ==========================================================================

``ckspec record`` passes the recorded program's own exit code through, exits 128 + N after
signal N (SIGINT 130, SIGHUP 129, SIGTERM 143: the trace is written all the same), and uses the
codes above for its own errors.
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 3
INCONCLUSIVE = 4
INTERNAL = 70
INTERRUPTED = 130

#: name -> code, for ``ckspec --help`` and the documentation test
CODES = {"OK": OK, "FAILED": FAILED, "USAGE": USAGE, "UNREACHABLE": UNREACHABLE, "INCONCLUSIVE": INCONCLUSIVE,
         "INTERNAL": INTERNAL, "INTERRUPTED": INTERRUPTED}
