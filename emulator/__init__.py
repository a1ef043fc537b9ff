"""``ckspec serve``: ckspec's own AWS-compatible emulator, the reference model on the wire.

KMS (``TrentService``) and CloudHSM v2 (``BaldrApiService``) over AWS JSON 1.1, so boto3,
the AWS CLI and anything else that speaks AWS can be pointed at it with an endpoint URL;
plus the test-control extension (:mod:`ckspec.conformance.control`) under ``/_ckspec`` for
what AWS has no API for. Every KMS call the model covers is decided by the reference model
(:class:`~ckspec.conformance.reference.ReferenceTarget`); serve adds what an application
observes besides (KMS's messages, real cryptography, wall-clock dates) and answers the plain
KMS calls around keys (ordinary keys, aliases, tags, policies: :mod:`.kms_plain`)::

    from ckspec.emulator import serving

    with serving(clock="manual") as endpoint:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
"""

from .options import MAX_BODY, ServeOptions
from .server import EmulatorServer, is_loopback, serving

__all__ = ["MAX_BODY", "EmulatorServer", "ServeOptions", "is_loopback", "serving"]
