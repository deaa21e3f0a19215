"""The one exception root of the project (every part but the drivers derives from it).

Each part keeps one base of its own (``WireError``, ``ControllerError``, ``ServerError``...)
derived from :class:`LockersError`; where an error is also a kind of builtin error it derives
from that builtin too (gpiozero's pattern), so ``except ValueError`` still catches a bad UID.
``firmware_py`` is the exception: by the house rules it imports nothing of ours, so its
``FirmwareError`` is a root of its own, and the controller wraps it at the boundary.
"""


class LockersError(Exception):
    """Base of every error raised on purpose by the kernel, the controller, the screen, the
    server and the launcher, with a message a school's IT person can act on."""
