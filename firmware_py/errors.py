"""The one exception base of the drivers."""


class FirmwareError(RuntimeError):
    """A hardware or configuration problem, with a message a school's IT person can act on."""


class PinMapError(FirmwareError):
    """A pin map file that cannot be wired as written."""


class ReaderError(FirmwareError):
    """A card reader that cannot be found or used."""


class BoardMapError(FirmwareError):
    """A board map file (lock-control boards on RS-485) that cannot be wired as written."""


class BoardBusError(FirmwareError):
    """The RS-485 bus of the lock-control boards cannot be opened or used."""
