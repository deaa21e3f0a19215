"""The one exception base of the kiosk controller."""


class ControllerError(RuntimeError):
    """A kiosk problem, with a message a school's IT person can act on."""


class ConfigError(ControllerError):
    """The kiosk's config file is missing or wrong."""
