"""The recording bootstrap ``ckspec record`` puts on a program's PYTHONPATH: ``sitecustomize``
and the self-contained hook it loads (see :mod:`.ckspec_record_hook`)."""
