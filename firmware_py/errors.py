"""The one exception base of the drivers."""


class FirmwareError(RuntimeError):
    """A hardware or configuration problem, with a message a school's IT person can act on."""


class PinMapError(FirmwareError):
    """A pin map file that cannot be wired as written."""


class ReaderError(FirmwareError):
    """A card reader that cannot be found or used."""
